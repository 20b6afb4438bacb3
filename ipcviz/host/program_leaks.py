"""Objects a watched program left behind (a /dev/shm segment, a message queue): they are
the program's, not ipcviz's, so a run only reports them and writes them down in the run
root; `ipcviz clean --program-leaks` removes those still there and still yours.
"""

from __future__ import annotations

import os
import re
import stat

from ipcviz.host.runroot import read_private_file, trusted_run_root

FILENAME = "program-leaks"
#: only these can be written down, and only these are ever removed
_LEAK = re.compile(r"^/dev/(shm|mqueue)/[^/\0\n]{1,250}$")


def record(paths: list[str]) -> None:
    """Append `paths` to the run root's list (a private file, never followed as a link)."""
    paths = [p for p in paths if _LEAK.match(p)]
    if not paths:
        return
    target = trusted_run_root() / FILENAME
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, "".join(p + "\n" for p in paths).encode())
    finally:
        os.close(fd)


def remove() -> tuple[list[str], list[str]]:
    """Remove every listed object that still exists, is a plain file of yours and has the
    name written down; returns (removed, refused with why). The list is emptied."""
    target = trusted_run_root() / FILENAME
    raw = read_private_file(target)
    if raw is None:
        return [], []
    removed, refused = [], []
    for path in dict.fromkeys(raw.decode(errors="replace").splitlines()):
        if not _LEAK.match(path):
            refused.append(f"{path!r}: not a /dev/shm or /dev/mqueue name; left alone")
            continue
        if path.startswith("/dev/mqueue/"):  # the file system need not be mounted
            removed += _remove_queue(path, refused)
            continue
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue  # gone already
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            refused.append(f"{path}: not a plain object of yours; left alone")
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except OSError as exc:
            refused.append(f"{path}: {exc.strerror}")
    os.unlink(target)
    return removed, refused


def _remove_queue(path: str, refused: list[str]) -> list[str]:
    """Unlink the queue; the kernel lets only its owner do it (sticky /dev/mqueue)."""
    import posix_ipc

    try:
        posix_ipc.unlink_message_queue(path[len("/dev/mqueue"):])
    except posix_ipc.ExistentialError:
        return []
    except posix_ipc.Error as exc:
        refused.append(f"{path}: {exc}; left alone")
        return []
    return [path]
