"""The live process cap of a run, and the kernel-held slots that enforce it.

`MAX_PROCESSES` is the one figure: validation counts a scenario's worst case against it
when the file is loaded, and the runtime enforces it while the run lives. The slots are
bytes in an anonymous pipe made before the first fork: whoever forks (the runtime for a
worker or a restart, a worker for a `spawn`) first reads one byte, and whoever reaps the
process writes it back. A 1-byte read from a pipe is atomic, so two spawners racing for
the last slot cannot both win, and nothing named is left behind if the run is killed.
"""

from __future__ import annotations

import os

#: Processes one run may have at a time, workers and their spawned children included.
MAX_PROCESSES = 512



def cap_refused(cap: int) -> str:
    """The event text of a fork the cap refused."""
    return f"spawn refused: process cap {cap} reached"


def take_slot(read_fd: int) -> bool:
    """Reserve one process slot; False when every slot is taken (the fork must not happen)."""
    try:
        return len(os.read(read_fd, 1)) == 1
    except (BlockingIOError, OSError):
        return False


def give_slot(write_fd: int) -> None:
    """Hand a slot back (the process it was taken for has been reaped, or never forked)."""
    try:
        os.write(write_fd, b"\0")
    except OSError:
        pass


class ProcessSlots:
    """The pipe of free slots: `MAX_PROCESSES` bytes in it when nothing runs."""

    def __init__(self, total: int):
        self.total = total
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        os.write(self.write_fd, b"\0" * total)

    @property
    def fds(self) -> tuple[int, int]:
        return self.read_fd, self.write_fd

    def take(self) -> bool:
        return take_slot(self.read_fd)

    def give(self) -> None:
        give_slot(self.write_fd)

    def free(self) -> int:
        """Slots not taken (FIONREAD on the pipe)."""
        import fcntl
        import struct
        import termios

        return struct.unpack("i", fcntl.ioctl(self.read_fd, termios.FIONREAD, b"\0" * 4))[0]

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.read_fd = self.write_fd = -1
