"""Speed panel: the channels a scenario compares (`compare:`), ranked by the bytes each
one delivered, with the rate now (over about the last second), the average since the
start and messages per second. All of them run at once on this machine: the figures are
real, and they are this machine's."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.text import Text
from textual.reactive import reactive

from ipcviz.format import bar
from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.state import SocketState
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.telemetry.snapshot import ChannelView, Snapshot
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.cost import COST_TITLE, cost_lines, counts_syscalls
from ipcviz.tui.widgets.grid import grid_lines

WINDOW = 11  # Snapshots in the "now" rate: about one second at 10 frames a second


#: a socket's words by its address family
SOCKET_WORDS = {"unix": "Unix socket", "tcp": "TCP socket (loopback)",
                "udp": "UDP socket (loopback)"}


def mechanism(c: ChannelView) -> str:
    """What the data goes through, in the words of the lesson: its kind's label (a
    socket's by its address family), or the kind's name."""
    if isinstance(c.state, SocketState):
        return SOCKET_WORDS.get(c.state.family or "unix", "socket")
    row = CHANNELS.get(c.kind)
    return (row.label if row is not None else "") or c.kind


def messages_of(c: ChannelView) -> int | None:
    """The messages a queue has delivered; None for a channel that carries no messages."""
    state = c.state
    return state.messages_received if isinstance(state, QueueState) else None


def rate_text(bytes_per_s: float | None) -> str:
    """Bytes per second as MB/s (10^6 bytes, as the summary's `mb_per_s`)."""
    if bytes_per_s is None:
        return "-"
    return f"{bytes_per_s / 1e6:,.1f} MB/s"


class SpeedPanel(Panel):
    """Renders the compared channels of a Snapshot as a race."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; each one adds a point to every channel's rate window."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._windows: dict[str, deque[tuple[float, int, int]]] = {}

    def forget_run(self) -> None:
        super().forget_run()
        self._windows.clear()

    def record(self, snap: Snapshot) -> None:
        """Every raced channel's bytes and messages moved, into its rate window."""
        for c in snap.channels:
            race = c.state.race
            if race is None:
                continue
            messages = messages_of(c) or 0
            window = self._windows.setdefault(c.name, deque(maxlen=WINDOW))
            if window and snap.elapsed < window[-1][0]:  # a restarted run starts again
                window.clear()
            window.append((snap.elapsed, race.moved, messages))

    def _now(self, c: ChannelView) -> tuple[float | None, float | None]:
        """(bytes/s, messages/s) over the Snapshots of about the last second."""
        window = self._windows.get(c.name)
        if not window:
            return None, None
        (t0, b0, m0), (t1, b1, m1) = window[0], window[-1]
        if t1 <= t0:
            return None, None
        return (b1 - b0) / (t1 - t0), (m1 - m0) / (t1 - t0)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        self.track(snap)
        raced = sorted(((c, c.state.race) for c in snap.channels if c.state.race is not None),
                       key=lambda raced: (raced[1].rank, raced[0].name))
        self.set_shown(bool(raced))
        if not raced:
            return
        narrow = self.app.has_class("narrow")
        if counts_syscalls([c for c, _ in raced]):
            self.border_title = COST_TITLE
            self.show(cost_lines([c for c, _ in raced], self.text_width, narrow, snap.running,
                                 mechanism))
            return
        rates = {c.name: self._now(c) for c, _ in raced}
        top = max((r[0] or 0.0 for r in rates.values()), default=0.0) or 1.0
        columns = ["#", "channel", "through", "now", "average", "moved", "msg/s"]
        if narrow:
            columns = ["#", "channel", "now", "average", "moved"]
        rows: list[list[Text | str]] = []
        for c, race in raced:
            now, per_s = rates[c.name]
            first = race.rank == 1
            gauge = Text(bar((now or 0.0) / top, 8 if narrow else 14),
                         style="bold green" if first else "cyan")
            gauge.append(f" {rate_text(now)}")
            name = Text(c.name, style="bold")
            cells: list[Text | str] = [
                Text(str(race.rank), style="bold green" if first else ""), name,
                mechanism(c), gauge,
                f"{race.mb_per_s:,.1f} MB/s", f"{race.moved / 1e6:,.1f} MB",
                f"{per_s:,.0f}" if per_s is not None and messages_of(c) is not None
                else "-"]
            if narrow:
                name.append(f" {mechanism(c)}", style="dim")
                cells = [cells[0], name, gauge, cells[4], cells[5]]
            rows.append(cells)
        lines = grid_lines(columns, rows, self.text_width,
                           right=range(4, 7) if not narrow else range(3, 5))
        state = "final ranking" if not snap.running else "all at once"
        # the panels beside this one count bytes in KiB/MiB/GiB: say which MB this is
        shared = "" if narrow else ", sharing this machine's CPUs"
        lines.append(Text(f" {state}{shared}: measured, not simulated (1 MB = 1,000,000 bytes)",
                          style="dim"))
        self.show(lines)
