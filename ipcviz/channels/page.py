"""One page of anonymous memory that the runtime maps before it forks any worker, so
every worker (and every child a worker forks) holds it at the same virtual address.

`shared: false` maps it MAP_PRIVATE: after fork() parent and child hold the same
physical frame, marked copy-on-write, until one of them writes; the writer's page fault
gives it a copy of its own, in a new frame, and from then on the two processes see
different contents at the same address. `shared: true` maps it MAP_SHARED: one frame
for every process, so a write is seen by all.

Each access by a worker records, in the worker's own row, the virtual address it used
and the physical frame behind it as the kernel's /proc/self/pagemap tells it: the frame
number only to a process with CAP_SYS_ADMIN (root); anyone else reads a zero in its
place, which is never shown as a frame (`FRAME_HIDDEN`). The page is written and read at
offset 0: a variable at one address, not a stream.
"""

from __future__ import annotations

import ctypes
import mmap
from typing import Protocol, runtime_checkable

from ipcviz.channels.base import Channel
from ipcviz.channels.endpoints import Endpoint

PAGE_BYTES = mmap.PAGESIZE
#: what a frame cell holds besides a frame number (a real frame number is > 0)
FRAME_NONE = 0  # the worker has not touched the page yet
FRAME_HIDDEN = -1  # present, but the kernel shows frame numbers to root only
FRAME_ABSENT = -2  # not in memory at that moment (swapped out, or never touched)
_PFN_MASK = (1 << 55) - 1
_PRESENT = 1 << 63


def frame_of(address: int, pagemap: str = "/proc/self/pagemap") -> int:
    """The physical frame behind virtual `address` in the process whose pagemap this is,
    or FRAME_HIDDEN / FRAME_ABSENT. An unreadable pagemap counts as hidden."""
    try:
        with open(pagemap, "rb", buffering=0) as f:
            f.seek(address // PAGE_BYTES * 8)
            raw = f.read(8)
    except OSError:
        return FRAME_HIDDEN
    if len(raw) != 8:
        return FRAME_HIDDEN
    entry = int.from_bytes(raw, "little")
    if not entry & _PRESENT:
        return FRAME_ABSENT
    return entry & _PFN_MASK or FRAME_HIDDEN


def address_of(page: mmap.mmap) -> int:
    """The virtual address of the mapping's first byte in this process."""
    view = ctypes.c_char.from_buffer(page)
    try:
        return ctypes.addressof(view)
    finally:
        del view  # an exported buffer would keep the mapping from ever closing


class PageSpec(Protocol):
    """What a page channel reads of its options."""

    @property
    def shared(self) -> bool:
        """MAP_SHARED (one frame for all) rather than MAP_PRIVATE (copy on write)."""


@runtime_checkable
class PageEnd(Protocol):
    """One page at the same address in every worker; nothing waits. `address` is where it
    is mapped in this process."""

    address: int

    def write(self, data: bytes | memoryview) -> int:
        """Store `data` at offset 0 (at most a page): the bytes stored."""
        ...

    def read(self, nbytes: int) -> bytes:
        """The first `nbytes` (at most a page), as this process sees them."""
        ...

    def frame(self) -> int:
        """The physical frame behind the page in this process now, or FRAME_HIDDEN /
        FRAME_ABSENT."""
        ...


class PageEndpoint(PageEnd, Endpoint):
    """A worker's handle on the page: the runtime's mapping, inherited through fork."""

    def __init__(self, page: mmap.mmap, address: int):
        self.map = page
        self.address = address

    def write(self, data: bytes | memoryview) -> int:
        """Store `data` at offset 0 (at most a page); the bytes stored."""
        n = min(len(data), PAGE_BYTES)
        self.map[0:n] = bytes(data[:n])
        return n

    def read(self, nbytes: int) -> bytes:
        """The first `nbytes` bytes (at most a page), as this process sees them."""
        return bytes(self.map[0:min(nbytes, PAGE_BYTES)])

    def frame(self) -> int:
        """The frame behind the page in this process now (after an access: present)."""
        return frame_of(self.address)

    def for_roles(self, roles: set[str]) -> PageEndpoint:
        return self


class PageChannel(Channel[PageSpec]):
    kind = "page"

    def create(self) -> None:
        """Map the page now, in the runtime, before any worker is forked: each worker
        inherits the mapping at this address. Nothing is named, so nothing can leak."""
        flags = mmap.MAP_ANONYMOUS | (mmap.MAP_SHARED if self.spec.shared else mmap.MAP_PRIVATE)
        self.map = mmap.mmap(-1, PAGE_BYTES, flags=flags)
        self.address = address_of(self.map)

    def attach(self, roles: set[str]) -> PageEndpoint:
        return PageEndpoint(self.map, self.address)

    def observe(self) -> dict:
        return {"shared": bool(self.spec.shared), "size": PAGE_BYTES,
                "address": f"{self.address:#x}"}

    def close(self) -> None:
        self.map.close()
