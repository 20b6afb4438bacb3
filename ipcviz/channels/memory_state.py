"""Memory's state in one frame, typed: a mapped file (mmap), a POSIX shm object by its
name (shm), one page of anonymous memory (page), a window of a sparse file (window), each
written and read by the workers in bytes (`MappedState`), and a shared numpy array
incremented in place (`ArrayState`), with the relations every frame keeps.

The kinds differ in what the kernel shows of them, so each has its own state; a field's
place is its key's place in the JSON (the order the runtime writes them in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from ipcviz.channels.state import Broken, ByteCounts, ChannelState
from ipcviz.channels.wire import GRID, HEX, NUMBER, NUMBERS, SHAPE, Checked, DictOf, Either, Wire

__all__ = ["ArrayState", "MappedState", "MmapState", "PageState", "ShmState", "WindowState"]


@dataclass(frozen=True, kw_only=True)
class MappedState(ByteCounts):
    """Bytes stored into and read out of memory the workers share, as they counted them."""


@dataclass(frozen=True, kw_only=True)
class MmapState(MappedState):
    """A file mapped MAP_SHARED by every worker: its first bytes (what a `read` reads) and
    the bytes around the busiest writer's next offset, as hexadecimal text."""

    path: Annotated[str | None, Checked()] = None
    size: Annotated[int | None, Checked()] = None
    write_offset: int | None = None
    """Where the busiest writer writes next (None in recordings made before it)."""
    preview: Annotated[str | None, Wire(HEX)] = None
    """The file's first bytes, in hexadecimal."""
    window_at: int | None = None
    """Where `window` starts: set only once the writer is past the first rows."""
    window: Annotated[str | None, Wire(HEX)] = None

    def shown_bytes(self) -> tuple[int, str]:
        """(offset, hex bytes) of what the panel draws: the writer's window, else the start."""
        at = self.window_at or 0
        return at, (self.window if at else self.preview) or ""


@dataclass(frozen=True, kw_only=True)
class ShmState(MappedState):
    """A POSIX shm object: its name in /dev/shm, its size and first bytes as the kernel
    has them now, and which processes have it open or mapped."""

    path: Annotated[str | None, Checked()] = None
    declared_size: Annotated[int | None, Checked()] = None
    """The size it was made with."""
    in_dev_shm: Annotated[bool | None, Checked()] = None
    """False once unlinked: the name is gone (its size and contents are then 0 and "")."""
    size: Annotated[int | None, Checked()] = None
    contents: Annotated[str | None, Checked()] = None
    """Its first bytes as text, up to the first NUL."""
    held_by: list[str] | None = None
    """The run's processes that have it open or mapped now (from /proc)."""
    unlinked_by_runtime: Annotated[bool | None, Checked()] = None
    """The last frame: still there at the end, and the runtime's cleanup removed it."""

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Beside its counters: an object gone from /dev/shm has no size or contents (it is
        not shown with the last ones it had), and an unlinked name does not come back."""
        out = super().relations(before)
        if self.in_dev_shm is False and (self.size or self.contents):
            out.append(Broken("gone from /dev/shm: nothing to show", {
                "size": self.size, "contents": self.contents}))
        if (isinstance(before, ShmState) and before.in_dev_shm is False
                and self.in_dev_shm):
            out.append(Broken("an unlinked name does not come back", {
                "before": False, "now": True}))
        return out


@dataclass(frozen=True, kw_only=True)
class PageState(MappedState):
    """One page mapped before fork: per process that touched it, its virtual address and
    the physical frames behind it at its first and latest access."""

    shared: Annotated[bool | None, Checked()] = None
    """MAP_SHARED (one frame for all) rather than MAP_PRIVATE (copy-on-write)."""
    size: Annotated[int | None, Checked()] = None
    address: str | None = None
    """Where the runtime mapped it ("0x..."): every process holds it there."""
    seen_by: Annotated[dict[str, list[Any]] | None,
                       Wire(dict[str, tuple[str, int | None, int | None]])] = None
    """Per worker: [its address, the frame at its first access, at its latest] (frames
    null when the kernel hides them)."""
    frames_hidden: Annotated[bool | None, Checked()] = None
    same_address: Annotated[bool | None, Checked()] = None
    """All of them used one address (null while fewer than two touched it)."""
    same_frame_first: Annotated[bool | None, Checked()] = None
    same_frame_last: Annotated[bool | None, Checked()] = None
    values_read: Annotated[dict[str, str] | None, Checked()] = None
    """Per worker, the text of its last read."""

    KEPT_WITH: ClassVar[dict[str, str]] = {"same_address": "seen_by",
                                           "same_frame_first": "seen_by",
                                           "same_frame_last": "seen_by"}

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Beside its counters: every process holds the page at the address the runtime
        mapped it at (fork copies the address space's layout), and a shared page is one
        frame in every process that has touched it."""
        out = super().relations(before)
        seen = self.seen_by or {}
        for worker, (address, _first, _last) in seen.items():
            if address != self.address:
                out.append(Broken("one virtual address in every process", {
                    worker: address, "mapped at": self.address}))
        if self.shared and self.same_frame_last is False:
            out.append(Broken("a shared page is one frame", {
                w: last for w, (_a, _f, last) in seen.items()}))
        return out


@dataclass(frozen=True, kw_only=True)
class WindowState(MappedState):
    """A window of a sparse file: the file's size beside the blocks it holds, the window
    mapped, and its readers' pages touched, resident pages and page faults."""

    bytes_written: int | None = None
    """A window is only read: no bytes are written to it, and no check names them."""
    path: Annotated[str | None, Checked()] = None
    file_size: Annotated[int | None, Checked()] = None
    offset: Annotated[int | None, Checked()] = None
    length: Annotated[int | None, Checked()] = None
    window_pages: Annotated[int | None, Checked()] = None
    file_blocks_bytes: Annotated[int | None, Checked()] = None
    """The bytes of blocks the file holds (null when it could not be read)."""
    pages_touched: Annotated[int | None, Checked()] = None
    rss_pages: Annotated[int | None, Checked()] = None
    """Resident pages of the readers' mappings (null when a mapping was not found)."""
    faults: Annotated[int | None, Checked()] = None
    major_faults: Annotated[int | None, Checked()] = None

    COUNTERS: ClassVar[tuple[str, ...]] = ("bytes_read", "pages_touched", "faults")
    KEPT_WITH: ClassVar[dict[str, str]] = {"file_blocks_bytes": "path",
                                           "rss_pages": "pages_touched"}

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Beside its counters: no more pages touched than the window has, and each
        reader's resident pages are the pages it touched (no readahead)."""
        out = super().relations(before)
        touched, pages, rss = self.pages_touched, self.window_pages, self.rss_pages
        if touched is not None and pages is not None and touched > pages:
            out.append(Broken("pages touched <= pages of the window",
                              {"pages touched": touched, "window pages": pages}))
        if rss is not None and touched is not None and rss != touched:
            out.append(Broken("resident pages = pages touched",
                              {"rss pages": rss, "pages touched": touched}))
        return out


@dataclass(frozen=True, kw_only=True)
class ArrayState(ChannelState):
    """A shared array: its contents (whole, or block means and summary figures when too
    big to travel), who wrote each element last, and the increments made against what
    the array gained."""

    dtype: Annotated[str | None, Checked()] = None
    shape: Annotated[list[int] | None, Wire(SHAPE), Checked()] = None
    shm_path: str | None = None
    sum: Annotated[int | float | None, Wire(NUMBER), Checked()] = None
    initial_sum: Annotated[int | float | None, Wire(NUMBER), Checked()] = None
    values: Annotated[list[Any] | dict[str, Any] | None, Wire(Either(NUMBERS, DictOf(NUMBER))),
                      Checked()] = None
    """Every element (nested lists), or {"min", "max", "sum"} for an array too big."""
    last_writer: Annotated[list[Any] | None, Wire(NUMBERS)] = None
    """Per element, the row of the worker that wrote it last (-1: nobody yet)."""
    heat: Annotated[list[list[float]] | None, Wire(GRID)] = None
    """An array too big: the block means of a heat map."""
    elements: list[list[Any]] | None = None
    """An array too big: the elements `expect` checks, as [index, value]."""
    increments: Annotated[int | None, Checked()] = None
    lost_updates: Annotated[int | None, Checked()] = None
    """Increments the array did not gain; null where the sum cannot tell (the note says
    why)."""
    lost_updates_note: Literal["wraparound", "rounding", "set_used"] | None = None

    COUNTERS: ClassVar[tuple[str, ...]] = ("increments",)
    KEPT_WITH: ClassVar[dict[str, str]] = {"lost_updates": "increments"}

    @property
    def gained(self) -> int | float:
        """What the array's sum gained since the start (0 when not known)."""
        return (self.sum or 0) - (self.initial_sum or 0)

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """What the array gained is what was added minus what was lost (gained =
        increments - lost updates, modulo 2^bits for integers, which wrap), so it never
        gained more than was added; lost updates never decrease (a lost update stays lost).
        Where lost updates are not known (`set` used, floats past the exact integers, a
        wrap that may hide a multiple) only the counters are checked."""
        import numpy as np  # (the UI reads arrays' states without needing numpy)

        out = super().relations(before)
        lost, increments = self.lost_updates, self.increments
        total, initial = self.sum, self.initial_sum
        if lost is None or increments is None or total is None or initial is None:
            return out
        gained = total - initial
        dtype = np.dtype(self.dtype or "int64")
        wrap = 1 << (8 * dtype.itemsize) if np.issubdtype(dtype, np.integer) else 0
        if lost < 0:
            out.append(Broken("gained <= increments", {
                "increments": increments, "gained": gained, "lost updates": lost}))
        elif (increments - lost - int(gained)) % wrap if wrap else increments - lost != gained:
            out.append(Broken("gained = increments - lost updates", {
                "increments": increments, "gained": gained, "lost updates": lost}))
        if isinstance(before, ArrayState) and isinstance(before.lost_updates, int) and (
                lost < before.lost_updates):
            out.append(Broken("lost updates never decrease", {
                "lost updates": lost, "before": before.lost_updates}))
        return out
