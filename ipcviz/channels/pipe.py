"""Anonymous pipes: one-way byte streams with a kernel buffer of fixed capacity.

Descriptors are non-blocking and a worker waits in poll() when the buffer is full
(or empty): the write() system call itself never blocks, so a worker killed while
"blocked on write" has every byte it handed to the kernel already counted.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import select
import termios
from typing import Protocol

from ipcviz.channels.base import Channel
from ipcviz.channels.endpoints import Endpoint, PipeEnd

#: a role "kept read" or "kept write": the worker holds that end of a pipe from its fork
#: on, though no step of it uses the end (`keeps:`, scenario/keeps.py); the runtime does
#: not count it as a need, so its own copy is released as if the worker had none
KEPT_PREFIX = "kept "

F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
_ROLE_FLAGS = {"read": os.O_RDONLY, "write": os.O_WRONLY}


def fionread(fd: int) -> int:
    """Bytes waiting in the kernel buffer behind `fd` (either end of a pipe or FIFO)."""
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return int(buf[0])


class NoEnd(Exception):
    """The pipe end this worker needs is gone (no other process holds the pipe)."""


class StreamEndpoint(PipeEnd, Endpoint):
    """A worker's ends of a byte stream; the step interpreter calls `write` and `read`."""

    def __init__(self, read_fd: int | None, write_fd: int | None):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._pollers: dict[int, select.poll] = {}

    def for_roles(self, roles: set[str]) -> StreamEndpoint:
        """The ends a spawned child with `roles` keeps (it inherits the spawner's)."""
        return StreamEndpoint(self.read_fd if "read" in roles else None,
                              self.write_fd if "write" in roles else None)

    def forget(self, fd: int) -> None:
        """`fd` is about to be closed: drop its poll object (the number may be reused)."""
        self._pollers.pop(fd, None)

    def _poller(self, fd: int, mask: int) -> select.poll:
        poller = self._pollers.get(fd)
        if poller is None:
            poller = self._pollers[fd] = select.poll()
            poller.register(fd, mask)
        return poller

    def write_some(self, data: memoryview) -> int:
        """Write what fits now; 0 means the buffer is full (call `wait_writable`)."""
        if self.write_fd is None:
            raise BrokenPipeError(errno.EPIPE, "no reader and no write end")
        try:
            return os.write(self.write_fd, data)
        except BlockingIOError:
            return 0

    def wait_writable(self, timeout_ms: int | None = None) -> None:
        assert self.write_fd is not None, "waits to write without a write end"
        self._poller(self.write_fd, select.POLLOUT).poll(timeout_ms)

    def read_some(self, nbytes: int) -> bytes | None:
        """Bytes available now, b'' at end of file, None when nothing is there yet."""
        if self.read_fd is None:
            return b""
        try:
            return os.read(self.read_fd, nbytes)
        except BlockingIOError:
            return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        assert self.read_fd is not None, "waits to read without a read end"
        self._poller(self.read_fd, select.POLLIN).poll(timeout_ms)


class PipeSpec(Protocol):
    """What a pipe or FIFO channel reads of its options."""

    @property
    def capacity(self) -> int | None:
        """Its kernel buffer in bytes (F_SETPIPE_SZ); None: the kernel's default."""


def _held(roles: set[str]) -> set[str]:
    """The ends ("read", "write") a worker with these roles holds: the ends its steps use
    and those it keeps unused (a role "kept write": KEPT_PREFIX, which the plan uses). Only
    the first are needs: `release` closes the runtime's copy of an end only kept."""
    return {role.removeprefix(KEPT_PREFIX) for role in roles}


class PipeChannel(Channel[PipeSpec]):
    """An anonymous pipe created by the runtime before it forks the workers."""

    kind = "pipe"

    def create(self) -> None:
        read_fd, write_fd = os.pipe()
        self._setup(read_fd, write_fd)

    def _setup(self, read_fd: int, write_fd: int) -> None:
        for fd in (read_fd, write_fd):
            os.set_blocking(fd, False)
        if self.spec.capacity:
            fcntl.fcntl(write_fd, F_SETPIPE_SZ, self.spec.capacity)
        self.capacity = fcntl.fcntl(write_fd, F_GETPIPE_SZ)
        #: the pipe's inode: its descriptors in any process link to pipe:[inode]
        self.inode = os.fstat(read_fd).st_ino
        self.fds: dict[str, int | None] = {"read": read_fd, "write": write_fd}
        self.fd_numbers = dict(self.fds)  # the numbers workers inherited them as
        self.last_buffered = 0
        self.max_buffered = 0

    def child_fds(self, roles: set[str]) -> set[int]:
        held = _held(roles)
        return {fd for role, fd in self.fds.items() if role in held and fd is not None}

    def attach(self, roles: set[str]) -> StreamEndpoint:
        held = _held(roles)
        return StreamEndpoint(
            self.fds["read"] if "read" in held else None,
            self.fds["write"] if "write" in held else None,
        )

    def release(self, needed: set[str]) -> None:
        for role, fd in self.fds.items():
            if fd is not None and role not in needed:
                self.observe()  # the last reading before the pipe may disappear
                os.close(fd)
                self.fds[role] = None

    def reopen(self, role: str, holders: list[tuple[int, set[str]]]) -> None:
        if role not in self.fds or self.fds[role] is not None:
            return  # (a kept end is not needed: a restarted worker keeps it if it is there)
        for pid, roles in holders:
            for held in roles & set(self.fd_numbers):
                path = f"/proc/{pid}/fd/{self.fd_numbers[held]}"
                try:
                    fd = os.open(path, _ROLE_FLAGS[role] | os.O_NONBLOCK)
                except OSError:
                    continue
                self.fds[role] = fd
                return

    def observe(self) -> dict:
        fd = self.fds["write"] if self.fds["write"] is not None else self.fds["read"]
        if fd is not None:
            try:
                self.last_buffered = fionread(fd)
            except OSError:
                pass
            self.max_buffered = max(self.max_buffered, self.last_buffered)
        data = {"buffered": self.last_buffered, "max_buffered": self.max_buffered,
                "capacity": self.capacity}
        if fd is None:  # no live worker needs either end: every end is closed, the pipe is
            # gone, and the bytes last seen in it went with it (`buffered` keeps that reading)
            data["closed"] = True
            data["unread_at_close"] = self.last_buffered
        return data

    def close(self) -> None:
        self.release(set())
