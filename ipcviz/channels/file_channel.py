"""A plain regular file in the run directory that workers take turns through: `write`
appends one record, `read` takes the records after the reader's own offset.

Each record is a 12-byte header (magic, payload length, CRC-32 of the payload) and the
payload, so a reader can tell a whole record from a half-written one (a torn read). A
write is made in two pieces (header plus the first half, then the rest) with `pause`
seconds between them, the way a large write really reaches a file in parts; with
`lock: true` each write holds `flock(LOCK_EX)` and each read `flock(LOCK_SH)` around the
operation, so a reader never sees the middle of a write.

A regular file has no end of file in the pipe's sense: a read past the last byte returns
at once. A blocking `read` that finds nothing new waits for a writer, so it must know
when no writer is left, as a pipe's reader learns from the kernel. Every process that
may write holds a shared `flock` on a second file, `NAME.writers` (the runtime holds one
too, until no live or restartable worker writes); a waiting reader that can take the
exclusive lock on it at once knows every writer has ended, and its read returns empty.
"""

from __future__ import annotations

import fcntl
import math
import os
import struct
import zlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ipcviz.channels.base import Channel, Room, Traffic, pages
from ipcviz.channels.endpoints import Endpoint

MAGIC = 0x49504346  # "IPCF"
HEADER = struct.Struct("<III")  # magic, payload length, crc32(payload)
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


def pack(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def parse(data: bytes) -> tuple[list[int], int, bool]:
    """(payload sizes of the whole records at the start of `data`, bytes they take,
    whether a part of a record follows them: a torn read)."""
    sizes, used = [], 0
    while len(data) - used >= HEADER.size:
        magic, length, crc = HEADER.unpack_from(data, used)
        end = used + HEADER.size + length
        if magic != MAGIC or end > len(data):
            break
        if zlib.crc32(data[used + HEADER.size:end]) != crc:
            break
        sizes.append(length)
        used = end
    return sizes, used, used < len(data)


class FileSpec(Protocol):
    """What a file channel reads of its options."""

    @property
    def lock(self) -> bool:
        """Each write and read holds a flock around it."""

    @property
    def pause(self) -> float:
        """Seconds a writer waits between the two pieces of a record."""


#: how a file end takes a flock: given the call that blocks, it makes it (the step shows
#: the worker blocked on the channel meanwhile)
LockWait = Callable[[Callable[[], None]], None]


@runtime_checkable
class FileEnd(Protocol):
    """A regular file of records: appended by writers, read from each reader's own
    offset. A read never waits for data (a regular file has no empty state); only taking
    a flock (`lock: true`) and a writer's `pause` between its two pieces wait."""

    def write_record(self, payload: bytes, wait: Callable[[float], None],
                     lock_wait: LockWait) -> int:
        """Append one record in two pieces (`wait(pause)` between them): the payload bytes
        written. OSError when the file system refuses it."""
        ...

    def read_records(self, nbytes: int, lock_wait: LockWait) -> tuple[list[int], bool, int]:
        """Up to `nbytes` after this reader's offset: (payload sizes of the whole records,
        torn: part of a record followed them, bytes seen); ([], False, 0) when nothing is
        new."""
        ...

    def writers_left(self) -> bool:
        """Whether a process that may still write the file is alive."""
        ...


class FileEndpoint(FileEnd, Endpoint):
    """One worker's handle on the file: its own descriptor and its own read offset."""

    def __init__(self, path: str, lock: bool, pause: float, writes: bool = True):
        # O_NOFOLLOW: the run directory is private, and a link in it is never followed
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | _OPEN_FLAGS)
        self.lock = lock
        self.pause = pause
        self.offset = 0  # where this reader's next record starts
        #: the writers' file: held shared for this process's life when it writes
        self.writers_fd = os.open(writers_path(path), os.O_RDONLY | _OPEN_FLAGS)
        if writes:
            fcntl.flock(self.writers_fd, fcntl.LOCK_SH)

    def writers_left(self) -> bool:
        """Whether a process that may write the file is alive (or the runtime still
        counts one as coming back): someone holds the writers' file shared."""
        try:
            fcntl.flock(self.writers_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self.writers_fd, fcntl.LOCK_UN)
        return False

    def write_record(self, payload: bytes, wait: Callable[[float], None],
                     lock_wait: LockWait) -> int:
        """Append one record in two pieces; returns the payload bytes written."""
        record = pack(payload)
        half = HEADER.size + len(payload) // 2
        if self.lock:
            lock_wait(lambda: fcntl.flock(self.fd, fcntl.LOCK_EX))
        try:
            _write_all(self.fd, record[:half])
            if self.pause:
                wait(self.pause)
            _write_all(self.fd, record[half:])
        finally:
            if self.lock:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        return len(payload)

    def read_records(self, nbytes: int, lock_wait: LockWait) -> tuple[list[int], bool, int]:
        """Read up to `nbytes` after this reader's offset: (payload sizes of the whole
        records found, torn: a part of a record followed, bytes seen)."""
        if self.lock:
            lock_wait(lambda: fcntl.flock(self.fd, fcntl.LOCK_SH))
        try:
            data = os.pread(self.fd, nbytes, self.offset)
        finally:
            if self.lock:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        sizes, used, torn = parse(data)
        if len(data) == nbytes:
            torn = False  # the rest may just not fit in `bytes`: read on at the next read
        self.offset += used
        return sizes, torn, len(data)

    def for_roles(self, roles: set[str]) -> FileEndpoint:
        return self


def writers_path(path: str) -> str:
    """The writers' file beside the channel's file (a channel name has no dot)."""
    return f"{path}.writers"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class FileChannel(Channel[FileSpec]):
    kind = "file"

    @classmethod
    def room(cls, spec: FileSpec, traffic: Traffic) -> Room:
        """Every record its writers can append: no bound when one appends forever."""
        appended = traffic.appended()
        if appended == math.inf:
            return Room(unbounded=((), "a writer appends to it forever (loop, restart or "
                                       "repeat forever): the file has no size limit; bound "
                                       "the writer (repeat N times, loop N)"))
        return Room(disk=pages(appended))

    def create(self) -> None:
        self.path = str(self.registry.path(self.name))
        self.registry.add("file", self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
        os.close(fd)
        writers = writers_path(self.path)
        self.registry.add("file", writers)
        self.writers_fd: int | None = os.open(
            writers, os.O_RDONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
        fcntl.flock(self.writers_fd, fcntl.LOCK_SH)  # a writer may still start

    def attach(self, roles: set[str]) -> FileEndpoint:
        return FileEndpoint(self.path, self.spec.lock, self.spec.pause, "write" in roles)

    def release(self, needed: set[str]) -> None:
        """Once no live or restartable worker writes, let waiting readers see the end."""
        if "write" not in needed and self.writers_fd is not None:
            os.close(self.writers_fd)
            self.writers_fd = None

    def reopen(self, role: str, holders: list[tuple[int, set[str]]]) -> None:
        if role == "write" and self.writers_fd is None:
            self.writers_fd = os.open(writers_path(self.path), os.O_RDONLY | _OPEN_FLAGS)
            fcntl.flock(self.writers_fd, fcntl.LOCK_SH)

    def close(self) -> None:
        self.release(set())

    def observe(self) -> dict:
        try:
            size = os.stat(self.path, follow_symlinks=False).st_size
        except OSError:
            size = 0
        return {"path": self.path, "lock": self.spec.lock, "file_bytes": size}
