"""Pipes panel: per pipe (and FIFO/socket), bytes written, read, and sitting in the kernel
buffer as a bar against its capacity, with who writes and who reads.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ipcviz.format import bar, format_bytes
from ipcviz.telemetry.snapshot import Snapshot

STREAM_KINDS = ("pipe", "fifo", "socket")
BAR_WIDTH = 24


class PipesPanel(Static):
    """Renders the stream channels of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=True)
    """The latest Snapshot."""

    def on_resize(self) -> None:
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        channels = [c for c in snap.channels if c.kind in STREAM_KINDS]
        self.display = bool(channels)
        narrow = self.app.has_class("narrow")
        width = 10 if narrow else BAR_WIDTH
        table = Table(box=None, expand=not narrow, padding=(0, 1), header_style="bold")
        columns = ["pipe", "written", "read", "in kernel buffer"]
        if not narrow:
            columns.insert(1, "writer → reader")
        for column in columns:
            table.add_column(column, no_wrap=True)
        blocked = {w.blocked_on for w in snap.workers if w.state == "blocked"}
        for c in channels:
            buffered = int(c.data.get("buffered", 0))
            capacity = int(c.data.get("capacity", 0)) or 1
            fraction = buffered / capacity
            style = "red" if fraction >= 1 else "yellow" if fraction > 0.5 else "green"
            gauge = Text(bar(fraction, width), style=style)
            gauge.append(f" {format_bytes(buffered)} / {format_bytes(capacity)}")
            if f"write {c.name}" in blocked:
                gauge.append("  FULL: writer blocked", style="bold red")
            ends = f"{', '.join(c.writers) or '-'} → {', '.join(c.readers) or '-'}"
            cells = [Text(f"{c.kind} {c.name}", style="bold"),
                     format_bytes(int(c.data.get("bytes_written", 0))),
                     format_bytes(int(c.data.get("bytes_read", 0))), gauge]
            if not narrow:
                cells.insert(1, ends)
            table.add_row(*cells)
        self.update(table)
