"""Reading a file someone else may have prepared: a recording to replay, a C source to build.

A path can name anything: a FIFO whose open or read waits for a writer that never comes,
/dev/zero that never ends, a directory, a file of gigabytes. `read_regular` answers with
the bytes of a regular file of bounded size, or one line saying why not:

- the path is looked at first (stat) and anything but a regular file is refused before it
  is opened, so opening a device has no side effect and a FIFO's open cannot wait;
- it is opened non-blocking anyway (a FIFO swapped in after the look opens at once), and
  the open descriptor is checked again (fstat): what is read is what was checked;
- at most `limit` bytes are read: one byte more says the file is too big, whatever its
  size said (a file that grows while it is read).

A symbolic link is followed: reading is the user's own choice of path, and what the link
names is checked like any other file. The bytes returned are the only copy a caller should
use: checking them and then opening the path again would check one file and use another.
"""

from __future__ import annotations

import os
import stat


class InputRefused(ValueError):
    """A file that cannot be read as asked; the message is one line naming it."""


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The whole content of regular file `path`, at most `limit` bytes, or InputRefused
    with one line ("PATH: is a FIFO (named pipe), not a recording")."""
    name = os.fspath(path)
    try:
        before = os.stat(name)
    except OSError as exc:
        raise InputRefused(f"{name}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(before.st_mode):
        raise InputRefused(f"{name}: is {_kind(before.st_mode)}, not a {what}")
    if before.st_size > limit:
        raise InputRefused(f"{name}: is {before.st_size:,} bytes; a {what} is limited to "
                           f"{limit:,} bytes")
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise InputRefused(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped since it was looked at
            raise InputRefused(f"{name}: is {_kind(st.st_mode)}, not a {what}")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise InputRefused(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise InputRefused(f"{name}: is more than {limit:,} bytes; a {what} is limited to "
                           f"{limit:,} bytes")
    return data
