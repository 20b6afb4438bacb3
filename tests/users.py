"""Acting as another user in tests: a forked child that has become another uid.

The child never reads the checkout, the virtualenv or the interpreter's files after it
dropped to the other uid: on a fresh machine the checkout may sit in a directory other
users cannot enter (/root, 0700), so every module of ipcviz (and what they import) is
imported before the fork, and results come back through a pipe.
"""

from __future__ import annotations

import importlib
import os
import pickle
import pkgutil
import resource
import traceback
from collections.abc import Callable
from typing import TypeVar

NOBODY = 65534
T = TypeVar("T")
_preloaded = False


def preload_ipcviz() -> None:
    """Import every module of ipcviz now (not its `__main__`s), so that a child that is
    another uid finds them in memory instead of reading them from the checkout."""
    global _preloaded
    if _preloaded:
        return
    import ipcviz

    for info in pkgutil.walk_packages(ipcviz.__path__, "ipcviz."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in ("encodings.idna", "importlib.readers"):  # imported lazily by the
        importlib.import_module(name)  # interpreter, whose files may be as closed
    _preloaded = True


def _become(uid: int, umask: int | None, nproc: int | None) -> None:
    if umask is not None:
        os.umask(umask)
    if nproc is not None:  # counted for the new uid from the first process on
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def as_user(action: Callable[[], T], uid: int = NOBODY, umask: int | None = None,
            nproc: int | None = None) -> T:
    """Run `action` in a forked child that has become `uid`/`uid` (with `umask` and an
    RLIMIT_NPROC of `nproc` set first when given) and return what it returned (pickled
    through a pipe); fails the test if the action failed."""
    preload_ipcviz()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            _become(uid, umask, nproc)
            data = pickle.dumps(action())
            view = memoryview(data)
            while view:
                view = view[os.write(write, view):]
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    with os.fdopen(read, "rb") as fh:
        while chunk := fh.read(65536):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"the child acting as uid {uid} failed"
    return pickle.loads(b"".join(chunks))


def as_nobody(action: Callable[[], None], umask: int | None = None) -> None:
    """Run `action` in a forked child that has become uid/gid 65534 (with `umask` set
    first when given); fails the test if the action failed."""
    as_user(action, NOBODY, umask)
