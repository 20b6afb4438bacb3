"""Shared memory panel: each shared array's real contents live (changed cells
highlighted, who wrote each cell last), expected vs actual and lost updates; mmap
files as hex and text with changed bytes highlighted.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive
from ipcviz.tui.widgets.base import Panel

from ipcviz.telemetry.snapshot import ChannelView, Snapshot

MAX_COLUMNS = 16
MAX_ROWS = 8
_HEAT = ["grey37", "blue", "cyan", "green", "yellow", "dark_orange", "red"]


def flatten(values: object) -> list[float]:
    if isinstance(values, list):
        out: list[float] = []
        for v in values:
            out += flatten(v)
        return out
    return [values]  # type: ignore[list-item]


def heat_style(value: float, low: float, high: float) -> str:
    if high <= low:
        return _HEAT[0]
    step = (value - low) / (high - low)
    return _HEAT[min(len(_HEAT) - 1, int(step * (len(_HEAT) - 1) + 0.5))]


def format_value(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value):,}"


def array_lines(c: ChannelView, previous: list[float] | None, writers: list[str]) -> list[Text]:
    """The header line and the grid of one shared array."""
    data = c.data
    shape = data.get("shape", [])
    lines = []
    head = Text(f"{c.name} ", style="bold")
    head.append(f"{data.get('dtype')} {shape}  ", style="dim")
    lost = data.get("lost_updates")
    if data.get("increments"):
        gained = data["sum"] - data["initial_sum"]
        head.append(f"increments {data['increments']:,} → array gained {gained:,}  ")
        if lost is not None:
            head.append(f" LOST UPDATES {lost:,} ", style="bold white on red" if lost
                        else "bold black on green")
    lines.append(head)
    values = data.get("values")
    if not isinstance(values, list):
        summary = values or {}
        lines.append(Text(f"  {len(flatten([]))}min {summary.get('min')}  max "
                          f"{summary.get('max')}  sum {summary.get('sum')}"))
        return lines
    flat = flatten(values)
    last = flatten(data.get("last_writer", [])) if data.get("last_writer") else []
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
        lines.append(Text(f"  … {len(rows) - MAX_ROWS} more rows (sum {data.get('sum')})",
                          style="dim"))
    return lines


def mmap_lines(c: ChannelView, previous: str | None) -> list[Text]:
    data = c.data
    raw = bytes.fromhex(data.get("preview", ""))[:64]
    old = bytes.fromhex(previous)[:64] if previous else None
    lines = [Text.assemble((f"{c.name} ", "bold"), (f"mmap {data.get('path')} ", "dim"),
                           f"({data.get('size')} bytes; written {data.get('bytes_written', 0)}, "
                           f"read {data.get('bytes_read', 0)})")]
    for offset in range(0, len(raw), 16):
        chunk = raw[offset:offset + 16]
        line = Text(f"  {offset:04x}  ", style="dim")
        for i, byte in enumerate(chunk):
            changed = old is not None and offset + i < len(old) and old[offset + i] != byte
            line.append(f"{byte:02x} ", style="bold reverse" if changed else
                        ("" if byte else "grey37"))
        line.append(" " + "".join(chr(b) if 32 <= b < 127 else "·" for b in chunk))
        lines.append(line)
    return lines


class SharedMemoryPanel(Panel):
    """Renders the shared arrays and mmap files of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False)
    """The latest Snapshot; cells that changed since the previous one are highlighted."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._previous: dict[str, object] = {}

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        channels = [c for c in snap.channels if c.kind in ("shared_array", "mmap")]
        self.display = bool(channels)
        writers = [w.name for w in snap.workers]
        lines: list[Text] = []
        for c in channels:
            if c.kind == "shared_array":
                lines += array_lines(c, self._previous.get(c.name), writers)  # type: ignore[arg-type]
                values = c.data.get("values")
                self._previous[c.name] = flatten(values) if isinstance(values, list) else None
            else:
                lines += mmap_lines(c, self._previous.get(c.name))  # type: ignore[arg-type]
                self._previous[c.name] = c.data.get("preview")
        self.show(Group(*lines), len(lines))
