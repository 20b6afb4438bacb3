"""Shared memory panel: each shared array's real contents live (changed cells
highlighted, who wrote each cell last), expected vs actual and lost updates; mmap
files as hex and text with changed bytes highlighted.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.events import MouseMove
from textual.reactive import reactive
from ipcviz.format import format_bytes
from ipcviz.tui.widgets.base import Panel, ends_text

from ipcviz.channels.memory_state import ArrayState, MmapState, PageState, ShmState, WindowState
from ipcviz.tui.widgets.shm_object_lines import shm_object_lines
from ipcviz.telemetry.snapshot import ChannelView, Snapshot
from ipcviz.tui.widgets.page_lines import page_lines
from ipcviz.tui.widgets.window_lines import window_lines
from ipcviz.tui.widgets.channel_panels import channels_in

MAX_COLUMNS = 16
MAX_ROWS = 8
HEAT_ROWS, HEAT_COLUMNS = 8, 64


def array_of(c: ChannelView) -> ArrayState:
    """The channel's state as an array's (an empty one for a state of another type)."""
    return c.state if isinstance(c.state, ArrayState) else ArrayState()


def heat_grid(c: ChannelView) -> tuple[list[list[float]], int, int] | None:
    """(grid, rows per cell, columns per cell) when the array is too big for numbers."""
    import numpy as np

    array = array_of(c)
    shape = array.shape or []
    if array.heat is not None:  # too big to ship: the runtime sent block means
        grid = array.heat
        rows = -(-shape[0] // len(grid)) if len(shape) == 2 else 1
        cols = -(-shape[-1] // len(grid[0]))
        return grid, rows, cols
    values = array.values
    if not isinstance(values, list) or len(shape) != 2 or (
            shape[0] <= MAX_ROWS and shape[1] <= MAX_COLUMNS):
        return None
    cached = _HEAT_CACHE.get(id(values))
    if cached is not None:
        return cached
    rows, cols = -(-shape[0] // HEAT_ROWS), -(-shape[1] // HEAT_COLUMNS)
    numbers = np.asarray(values, dtype=float)
    padded = np.full((-(-shape[0] // rows) * rows, -(-shape[1] // cols) * cols), np.nan)
    padded[:shape[0], :shape[1]] = numbers
    means = np.nanmean(padded.reshape(padded.shape[0] // rows, rows, -1, cols), axis=(1, 3))
    _HEAT_CACHE.clear()
    _HEAT_CACHE[id(values)] = result = (means.tolist(), rows, cols)
    return result


_HEAT_CACHE: dict[int, tuple[list[list[float]], int, int]] = {}


def heat_lines(grid: list[list[float]]) -> list[Text]:
    """One '█' per cell, coloured by value; a run of one colour is one span (cheap to draw)."""
    flat = [v for row in grid for v in row]
    low, high = min(flat), max(flat)
    lines = []
    for row in grid:
        line = Text("  ")
        styles = [heat_style(value, low, high) for value in row]
        start = 0
        for k in range(1, len(styles) + 1):
            if k == len(styles) or styles[k] != styles[start]:
                line.append("█" * (k - start), style=styles[start])
                start = k
        lines.append(line)
    return lines


_HEAT = ["grey37", "blue", "cyan", "green", "yellow", "dark_orange", "red"]


def flatten(values: Any) -> list[float]:
    """Nested lists of numbers (decoded JSON) as one flat list."""
    if isinstance(values, list):
        out: list[float] = []
        for v in values:
            out += flatten(v)
        return out
    return [values]


def heat_style(value: float, low: float, high: float) -> str:
    if high <= low:
        return _HEAT[0]
    step = (value - low) / (high - low)
    return _HEAT[min(len(_HEAT) - 1, int(step * (len(_HEAT) - 1) + 0.5))]


def format_value(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value):,}"


#: why the panel shows no lost-update count (the summary's `lost_updates_note`)
_LOST_UNKNOWN = {
    "wraparound": "lost updates unknown: {dtype} wraps around, and racing workers may have "
                  "lost a multiple of its range",
    "rounding": "lost updates unknown: {dtype} rounds past its exact integers, so +1 can "
                "vanish without a race",
    "set_used": "lost updates unknown: a worker also sets values",
}


def array_lines(c: ChannelView, previous: list[float] | None, writers: list[str],
                hover: str | None = None) -> list[Text]:
    """The header line and the grid of one shared array."""
    array = array_of(c)
    shape = array.shape or []
    lines = []
    head = Text(f"{c.name} ", style="bold")
    head.append(f"{array.dtype} {shape}  ", style="dim")
    lost = array.lost_updates
    if array.increments:
        head.append(f"increments {array.increments:,} → array gained {array.gained:,}  ")
        if lost is not None:
            head.append(f" LOST UPDATES {lost:,} ", style="bold white on red" if lost
                        else "bold black on green")
        elif array.lost_updates_note in _LOST_UNKNOWN:
            head.append(_LOST_UNKNOWN[array.lost_updates_note].format(
                dtype=array.dtype or "its dtype"), style="italic")
    if array.shm_path:  # the POSIX shared memory object behind it, by name (last: on a
        head.append(f"  {array.shm_path}", style="cyan")  # narrow screen it wraps)
    lines.append(head)
    values = array.values
    heat = heat_grid(c)
    if heat is not None:
        grid, cell_rows, cell_cols = heat
        low = min(v for r in grid for v in r)
        high = max(v for r in grid for v in r)
        if hover:
            lines.append(Text(f"  {hover}", style="bold cyan"))
        else:
            lines.append(Text(f"  heat map: one cell = {cell_rows}x{cell_cols} elements; "
                              f"{format_value(low)} (grey) to {format_value(high)} (red); "
                              "point with the mouse for a value", style="dim"))
        lines += heat_lines(grid)
        return lines
    if not isinstance(values, list):
        summary = values or {}
        lines.append(Text(f"  min {summary.get('min')}  max {summary.get('max')}  "
                          f"sum {summary.get('sum')}"))
        return lines
    flat = flatten(values)
    last = flatten(array.last_writer) if array.last_writer else []
    columns = shape[-1] if len(shape) == 2 else min(len(flat), MAX_COLUMNS)
    columns = max(1, min(columns, MAX_COLUMNS))
    low, high = min(flat), max(flat)
    width = max(len(format_value(v)) for v in flat) + 1
    rows = [flat[i:i + columns] for i in range(0, len(flat), columns)]
    for r, row in enumerate(rows[:MAX_ROWS]):
        line = Text("  ")
        for k, value in enumerate(row):
            index = r * columns + k
            changed = previous is not None and index < len(previous) and previous[index] != value
            style = heat_style(value, low, high) + (" bold reverse" if changed else "")
            line.append(format_value(value).rjust(width), style=style)
        if last:
            who = {int(w) for w in last[r * columns:(r + 1) * columns] if int(w) >= 0}
            names = ", ".join(writers[w] if w < len(writers) else f"#{w}" for w in sorted(who))
            line.append(f"   last written by {names or '-'}", style="dim")
        lines.append(line)
    if len(rows) > MAX_ROWS:
        lines.append(Text(f"  … {len(rows) - MAX_ROWS} more rows (sum {array.sum})",
                          style="dim"))
    return lines


def mmap_lines(c: ChannelView, previous: tuple[int, str] | None) -> list[Text]:
    """A mapped file: 64 bytes as hex and text, following the writer (the rows before the
    offset it writes next), changed bytes highlighted; and the first bytes, which a
    `read` step reads, as text."""
    mapped = c.state if isinstance(c.state, MmapState) else MmapState()
    at, shown = mapped.shown_bytes()
    raw = bytes.fromhex(shown)[:64]
    old = None
    if previous is not None and previous[0] == at:
        old = bytes.fromhex(previous[1])[:64]
    lines = [Text.assemble((f"{c.name} ", "bold"), (f"mmap {mapped.path} ", "dim"),
                           # the bytes moved in the unit the pipes and sockets use
                           f"({mapped.size} bytes; written {format_bytes(mapped.written)}, "
                           f"read {format_bytes(mapped.read)})")]
    offset_next = mapped.write_offset  # (recordings made before it lack it)
    if c.writers and offset_next is not None:
        where = Text("  ")
        where.append(ends_text(c.writers), style="bold")
        where.append(f" writes next at offset {offset_next} (0x{offset_next:x})")
        if c.readers:
            head = bytes.fromhex(mapped.preview or "")[:48]
            where.append(";  ")
            where.append(ends_text(c.readers), style="bold")
            where.append(" reads from offset 0: ")
            where.append("".join(chr(b) if 32 <= b < 127 else "·" for b in head), style="cyan")
        lines.append(where)
    for row in range(0, len(raw), 16):
        chunk = raw[row:row + 16]
        line = Text(f"  {at + row:04x}  ", style="dim")
        for i, byte in enumerate(chunk):
            changed = old is not None and row + i < len(old) and old[row + i] != byte
            style = "bold reverse" if changed else ("" if byte else "grey37")
            if at + row + i == offset_next:
                style += " underline"
            line.append(f"{byte:02x} ", style=style)
        line.append(" " + "".join(chr(b) if 32 <= b < 127 else "·" for b in chunk))
        lines.append(line)
    return lines


def cell_text(c: ChannelView, r: int, k: int, rows: int, cols: int, mean: float) -> str:
    """What the heat-map cell (r, k) holds: the exact element, or its block's mean."""
    values = array_of(c).values
    if rows == cols == 1 and isinstance(values, list):
        return f"{c.name}[{r}, {k}] = {format_value(values[r][k])}"
    r0, k0 = r * rows, k * cols
    if isinstance(values, list):
        cells = [(values[i][j], i, j) for i in range(r0, min(r0 + rows, len(values)))
                 for j in range(k0, min(k0 + cols, len(values[0])))]
        top, i, j = max(cells)
        return (f"{c.name}[{i}, {j}] = {format_value(top)}, the largest of the block "
                f"[{r0}..{r0 + rows - 1}, {k0}..{k0 + cols - 1}] (mean {mean:.4g})")
    return f"{c.name}[{r0}..{r0 + rows - 1}, {k0}..{k0 + cols - 1}]: mean {mean:.4g}"


class SharedMemoryPanel(Panel):
    """Renders the shared arrays, mmap files and pages of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; cells that changed since the previous one are highlighted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: per shared array, its values in the last frame drawn (None: a heat map)
        self._previous_values: dict[str, list[float] | None] = {}
        #: per mapped file, (offset, hex bytes) of its window in the last frame drawn
        self._previous_windows: dict[str, tuple[int, str]] = {}
        self._maps: list[tuple[int, ChannelView]] = []
        self._hover: tuple[str, str] | None = None

    def forget_run(self) -> None:
        super().forget_run()
        self._previous_values.clear()
        self._previous_windows.clear()

    def on_mouse_move(self, event: MouseMove) -> None:
        """The exact value (or block mean) of the heat-map cell under the mouse."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        self._hover = None
        for top, c in self._maps:
            heat = heat_grid(c)
            if heat is None:  # (only arrays drawn as heat maps are listed)
                continue
            grid, rows, cols = heat
            r, k = offset.y - top, offset.x - 2
            if 0 <= r < len(grid) and 0 <= k < len(grid[0]):
                self._hover = (c.name, cell_text(c, r, k, rows, cols, grid[r][k]))
        if self.snapshot is not None:
            self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        channels = channels_in("memory", snap)
        self.set_shown(bool(channels))
        writers = [w.name for w in snap.workers]
        lines: list[Text] = []
        self._maps = []
        for c in channels:
            state = c.state
            if isinstance(state, ArrayState):
                heat = heat_grid(c) is not None
                if heat:  # the grid starts two lines down
                    self._maps.append((len(lines) + 2, c))
                hover = self._hover[1] if self._hover and self._hover[0] == c.name else None
                lines += array_lines(c, self._previous_values.get(c.name), writers, hover)
                values = state.values  # (a heat map highlights no changed cells)
                self._previous_values[c.name] = (flatten(values) if isinstance(values, list)
                                                 and not heat else None)
            elif isinstance(state, PageState):
                lines += page_lines(c)
            elif isinstance(state, WindowState):
                lines += window_lines(c)
            elif isinstance(state, ShmState):
                lines += shm_object_lines(c, snap)
            elif isinstance(state, MmapState):
                lines += mmap_lines(c, self._previous_windows.get(c.name))
                self._previous_windows[c.name] = state.shown_bytes()
            else:  # a memory kind registered from elsewhere, whose picture none draws
                lines.append(Text.assemble((f"{c.name} ", "bold"), (f"({c.kind})", "dim")))
        self.show(lines)
