"""A window of a large sparse file: each worker maps only `length` bytes at `offset` of a
file of `file_size` bytes in the run's private directory, and pages come in one by one as
they are touched.

The file is made with ftruncate() alone, so it holds no blocks: 256 MiB of file cost no
disk, and the run checks both (free space for the window, no blocks after the truncate)
before any worker starts. A `read` touches the window page by page from the worker's own
cursor; after each read the worker records, from the kernel, the resident size of its
mapping (`Rss:` of its entry in /proc/self/smaps) and the page faults the read took
(getrusage: minor and major). The mapping is MADV_RANDOM: no readahead, so a fault brings
in the one page touched and the resident pages are exactly the pages touched.
"""

from __future__ import annotations

import mmap
import os
import resource
from typing import Protocol, runtime_checkable

from ipcviz.channels.base import Channel, Room, Traffic, pages
from ipcviz.channels.endpoints import Endpoint

PAGE_BYTES = mmap.PAGESIZE


def rss_pages(address: int, smaps: str = "/proc/self/smaps") -> int | None:
    """Resident pages of the mapping that starts at `address` (its `Rss:` line), or None
    when no mapping starts there."""
    head = f"{address:x}-"
    try:
        with open(smaps) as f:
            found = False
            for line in f:
                if not found:
                    found = line.startswith(head)
                elif line.startswith("Rss:"):
                    return int(line.split()[1]) * 1024 // PAGE_BYTES
    except OSError:
        return None
    return None


def faults() -> tuple[int, int]:
    """This process's (minor, major) page faults so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_majflt


class WindowSpec(Protocol):
    """What a window channel reads of its options."""

    @property
    def file_size(self) -> int:
        """The sparse file's size in bytes."""

    @property
    def offset(self) -> int:
        """Where the window starts in the file (a multiple of the page size)."""

    @property
    def length(self) -> int:
        """The window's length in bytes: what each worker maps."""


@runtime_checkable
class WindowEnd(Protocol):
    """A worker's mapping of a window of a sparse file, read page by page from its own
    cursor; a read may wait for the disk (a major fault), nothing else waits. `address`
    is where it is mapped in this process."""

    address: int

    def touch(self, nbytes: int) -> int:
        """Load one byte of each page of the next `nbytes` from the cursor (wrapping at
        the window's end): the bytes gone over."""
        ...

    def pages_touched(self) -> int:
        """Distinct pages of the window this worker has touched."""
        ...


class WindowEndpoint(WindowEnd, Endpoint):
    """A worker's own mapping of the window, and its cursor in it."""

    def __init__(self, path: str, offset: int, length: int):
        fd = os.open(path, os.O_RDONLY)
        try:
            self.map = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ, offset=offset)
        finally:
            os.close(fd)
        self.map.madvise(mmap.MADV_RANDOM)  # no readahead: a fault maps the page touched
        self.length = length
        self.cursor = 0  # where this worker's next read starts (wraps at the window's end)
        self.furthest = 0  # the furthest byte of the window it has read up to
        self.address = _address(path, offset)

    def touch(self, nbytes: int) -> int:
        """Read `nbytes` from the cursor, one byte of each page (wrapping at the window's
        end); the bytes gone over."""
        data = self.map
        n = max(0, nbytes)
        at = self.cursor
        end = at + n
        page = at - at % PAGE_BYTES
        total = 0
        while page < end:
            total += data[page % self.length]  # one load per page: its fault, if any
            page += PAGE_BYTES
        self.checksum = total  # (kept, so the loads are plainly used)
        self.cursor = end % self.length if self.length else 0
        self.furthest = max(self.furthest, min(end, self.length))
        return n

    def pages_touched(self) -> int:
        """Distinct pages of the window this worker has touched."""
        return -(-self.furthest // PAGE_BYTES)

    def for_roles(self, roles: set[str]) -> WindowEndpoint:
        return self


def _address(path: str, offset: int) -> int:
    """Where this process mapped `path` at file offset `offset` (its newest such mapping),
    from /proc/self/maps: the kernel's own word for the address."""
    real = os.path.realpath(path)
    found = 0
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].rstrip("\n") == real and int(parts[2], 16) == offset:
                found = int(parts[0].split("-")[0], 16)
    return found


class WindowChannel(Channel[WindowSpec]):
    kind = "window"

    @classmethod
    def room(cls, spec: WindowSpec, traffic: Traffic) -> Room:
        """A sparse file: only the pages of the window touched take room."""
        return Room(disk=pages(spec.length))

    def create(self) -> None:
        """The sparse file: enough free space for every page of the window first, then
        ftruncate() only, and a file that really holds no blocks after it."""
        spec = self.spec
        self.path = str(self.registry.path(self.name))
        free = os.statvfs(os.path.dirname(self.path))
        if free.f_bavail * free.f_frsize < spec.length:
            raise OSError(28, f"No space left for the window: {spec.length} bytes needed in "
                              f"{os.path.dirname(self.path)}")
        self.registry.add("file", self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, spec.file_size)
            blocks = os.fstat(fd).st_blocks
        finally:
            os.close(fd)
        if blocks:
            raise OSError(95, f"{self.path}: this file system gave the truncated file "
                              f"{blocks * 512} bytes of blocks: it makes no sparse files")

    def attach(self, roles: set[str]) -> WindowEndpoint:
        return WindowEndpoint(self.path, self.spec.offset, self.spec.length)

    def observe(self) -> dict:
        """The file as the kernel has it: its size and the bytes of blocks it holds."""
        spec = self.spec
        try:
            held = os.stat(self.path).st_blocks * 512
        except OSError:
            held = None
        return {"path": self.path, "file_size": spec.file_size, "offset": spec.offset,
                "length": spec.length, "window_pages": spec.length // PAGE_BYTES,
                "file_blocks_bytes": held}
