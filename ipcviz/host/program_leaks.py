"""Objects a watched program left behind (a /dev/shm segment, a message queue): they are
the program's, not ipcviz's, so a run only reports them and writes them down in the run
root; `ipcviz clean --program-leaks` removes those still there and still yours.
"""

from __future__ import annotations

import os
import re

import posix_ipc

from ipcviz.host.ownership import file_identity, ipc_identity
from ipcviz.host.runroot import read_private_file, trusted_run_root

FILENAME = "program-leaks"
#: only these can be written down, and only these are ever removed
_LEAK = re.compile(r"^/dev/(shm|mqueue)/[^/\0\n\t]{1,250}$")


def record(leaks: list[tuple[str, int]]) -> None:
    """Append `leaks` (path, inode) to the run root's list (a private file, never followed
    as a link): one `PATH<tab>INODE` line each."""
    lines = [f"{path}\t{ino}\n" for path, ino in leaks if _LEAK.match(path)]
    if not lines:
        return
    target = trusted_run_root() / FILENAME
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, "".join(lines).encode())
    finally:
        os.close(fd)


def remove() -> tuple[list[str], list[str]]:
    """Remove every listed object that is still the one written down (same name, same
    inode) and that the kernel says is yours; returns (removed, refused with why). The
    list is emptied."""
    target = trusted_run_root() / FILENAME
    raw = read_private_file(target)
    if raw is None:
        return [], []
    removed, refused = [], []
    for line in dict.fromkeys(raw.decode(errors="replace").splitlines()):
        path, _, ino = line.partition("\t")
        if not _LEAK.match(path):
            refused.append(f"{line!r}: not a /dev/shm or /dev/mqueue name; left alone")
            continue
        if not ino.isdigit():
            refused.append(f"{path}: no inode written down with it; left alone")
            continue
        queue = path.startswith("/dev/mqueue/")
        name = "/" + path.rsplit("/", 1)[1]
        found = ipc_identity("mqueue", name) if queue else file_identity(path)
        if found is None:
            continue  # gone already
        if found[0] != os.getuid():
            refused.append(f"{path}: not a plain object of yours; left alone")
            continue
        if found[1] != int(ino):
            refused.append(f"{path}: another object of that name since the run; left alone")
            continue
        try:
            if queue:  # the file system need not be mounted
                posix_ipc.unlink_message_queue(name)
            else:
                os.unlink(path)
            removed.append(path)
        except (OSError, posix_ipc.Error) as exc:
            refused.append(f"{path}: {exc}; left alone")
    os.unlink(target)
    return removed, refused
