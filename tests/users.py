"""Acting as another user in tests: a forked child that has become uid/gid 65534."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable

NOBODY = 65534


def as_nobody(action: Callable[[], None], umask: int | None = None) -> None:
    """Run `action` in a forked child that has become uid/gid 65534 (with `umask` set
    first when given); fails the test if the action failed."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if umask is not None:
                os.umask(umask)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child acting as nobody failed"
