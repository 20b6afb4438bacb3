"""A file in the run directory mapped MAP_SHARED by every worker that uses it: the
bytes live in the page cache, and each worker's writes are seen by the others at once.
"""

from __future__ import annotations

import mmap
import os
from typing import Protocol, runtime_checkable

from ipcviz.channels.base import Channel, Room, Traffic, pages
from ipcviz.channels.endpoints import Endpoint

PREVIEW_BYTES = 256
#: bytes of the view that follows the writer
WINDOW_BYTES = 64


def allocate(fd: int, size: int, what: str) -> None:
    """Give the file `size` bytes the file system really holds: a sparse file (ftruncate
    alone) on a full tmpfs makes the first write through a mapping a SIGBUS; this way a
    full file system is an error at creation instead."""
    os.ftruncate(fd, size)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} ({size} bytes for {what})") from None


class MmapSpec(Protocol):
    """What an mmap channel reads of its options."""

    @property
    def size(self) -> int:
        """The file's size in bytes, all of it mapped."""


@runtime_checkable
class MappedEnd(Protocol):
    """Bytes every worker maps: a write lands at once for all to see; nothing waits."""

    def write(self, data: bytes | memoryview) -> int:
        """Store `data` at this worker's position (wrapping at the end): the bytes stored."""
        ...

    def read(self, nbytes: int) -> bytes:
        """A copy of the first `nbytes` (at most the mapping's size)."""
        ...


class MmapEndpoint(MappedEnd, Endpoint):
    """A worker's own MAP_SHARED mapping of the file, and where its next write goes."""

    def __init__(self, path: str, size: int):
        fd = os.open(path, os.O_RDWR)
        try:
            self.map = mmap.mmap(fd, size, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        self.size = size
        self.position = 0  # where this worker's next write goes (wraps around)

    def write(self, data: bytes | memoryview) -> int:
        n = min(len(data), self.size)
        start = self.position % self.size
        first = min(n, self.size - start)
        self.map[start:start + first] = data[:first]
        if n > first:
            self.map[0:n - first] = data[first:n]
        self.position = (start + n) % self.size
        return n

    def read(self, nbytes: int) -> bytes:
        return bytes(self.map[0:min(nbytes, self.size)])

    def for_roles(self, roles: set[str]) -> MmapEndpoint:
        return self


class MmapChannel(Channel[MmapSpec]):
    kind = "mmap"

    @classmethod
    def room(cls, spec: MmapSpec, traffic: Traffic) -> Room:
        """The whole file, allocated in the run directory before the run."""
        return Room(disk=pages(spec.size))

    def create(self) -> None:
        self.path = str(self.registry.path(self.name))
        self.registry.add("file", self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            allocate(fd, self.spec.size, self.path)
        finally:
            os.close(fd)
        self.view = MmapEndpoint(self.path, self.spec.size)

    def attach(self, roles: set[str]) -> MmapEndpoint:
        return MmapEndpoint(self.path, self.spec.size)

    #: set by the sampler before `observe`: where the busiest writer writes next (from
    #: its byte counter: each worker writes from offset 0 on, wrapping at the size)
    write_offset = 0

    def observe(self) -> dict:
        """The file's first bytes (what a `read` step reads), and the bytes around the
        writer's position: the rows of 16 before `write_offset`, so the view follows it."""
        size = self.spec.size
        at = max(0, min(size, (self.write_offset + 15) // 16 * 16) - WINDOW_BYTES)
        data = {"path": self.path, "size": size, "write_offset": self.write_offset,
                "preview": bytes(self.view.map[:PREVIEW_BYTES]).hex()}
        if at:
            data["window_at"] = at
            data["window"] = bytes(self.view.map[at:at + WINDOW_BYTES]).hex()
        return data

    def close(self) -> None:
        self.view.map.close()
