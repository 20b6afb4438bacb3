"""Pipes panel: per pipe (and FIFO/socket), bytes written, read, and sitting in the kernel
buffer as a bar against its capacity, with who writes and who reads.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.reactive import reactive

from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.grid import grid_lines

from ipcviz.format import bar, format_bytes, sparkline
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.telemetry.snapshot import ChannelView, Snapshot
from ipcviz.telemetry.views import StreamView


class PipesPanel(Panel):
    """Renders the stream channels of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._moved: dict[str, deque[int]] = {}
        self._last: dict[str, tuple[float, int]] = {}

    def _throughput(self, name: str, elapsed: float, total: int) -> list[int]:
        """Bytes moved per Snapshot interval, the last 12 intervals."""
        history = self._moved.setdefault(name, deque(maxlen=12))
        before = self._last.get(name)
        if before is not None and elapsed > before[0]:
            history.append(max(0, total - before[1]))
        self._last[name] = (elapsed, total)
        return list(history)

    def on_resize(self) -> None:
        self.watch_snapshot(self.snapshot)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        channels = [c for c in snap.channels if CHANNELS[c.kind].panel == "pipes"]
        self.set_shown(bool(channels))
        narrow = self.app.has_class("narrow")
        width = 10 if narrow else 12
        columns = ["channel", "written / read", "in the kernel", ""]
        if not narrow:
            columns[1:1] = ["writer → reader"]
            columns[-1:-1] = ["throughput"]
        rows: list[list[Text | str]] = []
        blocked = {w.waiting for w in snap.workers if w.state == "blocked"}
        for c in channels:
            note = Text()
            stream = StreamView.of(c)
            if c.kind == "socket":
                gauge = Text(f"{stream.connections} connection(s) on {stream.address}",
                             style="cyan")
            elif c.kind == "file":
                gauge = file_gauge(c)
            else:
                buffered = stream.buffered
                capacity = stream.capacity or 1
                fraction = buffered / capacity
                style = "red" if fraction >= 0.85 else "yellow" if fraction > 0.5 else "green"
                gauge = Text(bar(fraction, width), style=style)
                gauge.append(f" {format_bytes(buffered)} / {format_bytes(capacity)}")
                if ("write", c.name) in blocked:
                    note = Text("writer blocked", style="bold red")
            moved = Text(format_bytes(stream.bytes_written) + " / " +
                         format_bytes(stream.bytes_read))
            cells = [Text(f"{c.name} ({c.kind})", style="bold"), moved, gauge, note]
            if not narrow:
                if c.kind == "file":
                    ends = f"{', '.join(c.writers) or '-'} → {', '.join(c.readers) or '-'}"
                elif c.kind == "socket":
                    server = str(stream.server)
                    clients = [w for w in c.writers if w != server]
                    ends = f"{server} ⇄ {', '.join(clients) or '-'}"
                else:
                    ends = f"{', '.join(c.writers) or '-'} → {', '.join(c.readers) or '-'}"
                cells[1:1] = [ends]
                history = self._throughput(c.name, snap.elapsed, stream.bytes_read)
                cells[-1:-1] = [Text(sparkline(history), style="cyan")]
            rows.append(cells)
        self.show(grid_lines(columns, rows, self.text_width))


def file_gauge(c: ChannelView) -> Text:
    """A file channel: records written and read, torn reads, and whether flock is used."""
    data = c.data
    torn = int(data.get("torn_reads") or 0)
    text = Text(f"records {data.get('records_written', 0)} in, "
                f"{data.get('records_read', 0)} out, ", style="cyan")
    text.append(f"{torn} torn", style="bold red" if torn else "green")
    text.append(", flock" if data.get("lock") else ", no lock")
    return text
