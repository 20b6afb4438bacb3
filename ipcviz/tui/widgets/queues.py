"""Queues panel: per message queue, depth as a bar against capacity (from the kernel),
max depth seen, messages in and out, depth over time, and who is blocked on it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.text import Text
from textual.reactive import reactive

from ipcviz.channels.queue_state import QueueState
from ipcviz.format import bar, sparkline
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.telemetry.views import QueueView
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.grid import grid_lines
from ipcviz.tui.widgets.channel_panels import channels_in, panel_of

HISTORY = 40


class QueuesPanel(Panel):
    """Renders the mqueue and queue channels of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; each one adds a point to the depth history."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._history: dict[str, deque[int]] = {}
        self._received: dict[str, deque[tuple[float, int]]] = {}

    def forget_run(self) -> None:
        super().forget_run()
        self._history.clear()
        self._received.clear()

    def record(self, snap: Snapshot) -> None:
        """Every queue's depth (its history) and count received (its rate window)."""
        for c in snap.channels:
            if panel_of(c.kind) != "queues":
                continue
            queue = QueueView.of(c)
            self._history.setdefault(c.name, deque(maxlen=HISTORY)).append(queue.depth)
            self._received.setdefault(c.name, deque(maxlen=11)).append(
                (snap.elapsed, queue.messages_received))

    def _rate(self, name: str) -> float | None:
        """Messages received per second over about the last second of Snapshots."""
        window = self._received.get(name)
        if not window:
            return None
        (t0, n0), (t1, n1) = window[0], window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else None

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        self.track(snap)
        queues = channels_in("queues", snap)
        self.set_shown(bool(queues))
        narrow = self.app.has_class("narrow")
        columns = ["queue", "depth / capacity", "max", "sent", "received", "msg/s", "blocked"]
        if not narrow:
            columns.insert(3, "depth over time")
        rows: list[list[Text | str]] = []
        for c in queues:
            queue = QueueView.of(c)
            depth, capacity = queue.depth, queue.capacity
            history = self._history.get(c.name) or deque([depth])
            top = capacity if isinstance(capacity, int) and capacity > 0 else max(history) or 1
            full = isinstance(capacity, int) and depth >= capacity > 0
            width = 10 if narrow else 16
            if queue.byte_capacity:  # bounded in bytes (System V): the bar is its bytes
                used, most = queue.bytes_queued, queue.byte_capacity
                gauge = Text(bar(used / most, width),
                             style="red" if used >= most else "yellow" if depth else "green")
                gauge.append(f" {depth} ({used} B)" if narrow else
                             f" {depth} ({used} / {most} B)")
            elif isinstance(capacity, int) and capacity > 0:
                gauge = Text(bar(depth / top, width),
                             style="red" if full else "yellow" if depth else "green")
                gauge.append(f" {depth} / {capacity}")
            elif capacity == 0:  # holds nothing: a sender waits until a receiver takes it
                waiting = queue.waiting_senders
                gauge = Text("0 (rendezvous)")  # no bar: nothing to fill
                if waiting:
                    gauge.append(f": {'sender' if waiting == 1 else f'{waiting} senders'} "
                                 "waiting for a receiver", style="yellow")
            else:  # no capacity to fill: a bar against the most seen would look like one
                gauge = Text(" " * width)
                gauge.append(f" {depth} (no limit)", style="yellow" if depth else "")
            senders = [w.name for w in snap.workers
                       if w.state == "blocked" and w.waiting == ("send", c.name)]
            receivers = [w.name for w in snap.workers
                         if w.state == "blocked" and w.waiting == ("receive", c.name)]
            blocked = Text()
            if senders:
                blocked.append(f"send: {', '.join(senders)}", style="bold red")
            if receivers:
                blocked.append(("  " if senders else "") + f"receive: {', '.join(receivers)}",
                               style="yellow")
            received = queue.messages_received
            rate = self._rate(c.name)
            # thousands grouped, as msg/s and the cost panel count them
            sent = Text(f"{queue.messages_sent:,}")
            cells: list[Text | str] = [Text(f"{c.kind} {c.name}", style="bold"), gauge,
                     f"{queue.max_depth:,}",
                     sent, f"{received:,}",
                     f"{rate:,.0f}" if rate is not None else "-",
                     blocked if blocked else Text("-", style="dim")]
            if not narrow:
                cells.insert(3, Text(sparkline(list(history), top), style="cyan"))
            rows.append(cells)
        lines = grid_lines(columns, rows, self.text_width)
        lines += type_lines(queues)
        lines += refused_lines(queues)
        lines += duplicate_lines(snap)
        self.show(lines)


def type_lines(queues: list) -> list[Text]:
    """For a queue whose messages have types, one line per type: how many were sent, how
    many were received and how many are still in the queue (read in place from the
    kernel; "?" where the kernel cannot show a queued message's type), then the key
    `ipcs -q` lists it by."""
    lines = []
    for c in queues:
        queue = QueueView.of(c)
        for t, sent, got, queued in queue.by_type:
            line = Text(f" {c.name} ")
            line.append(f"type {t}:", style="bold")
            line.append(f" sent {'?' if queued is None else sent}, received {got}, ")
            line.append(f"queued {'?' if queued is None else queued}",
                        style="yellow" if queued else "")
            lines.append(line)
        key = c.state.key if isinstance(c.state, QueueState) else None
        if queue.by_type and key is not None:
            lines.append(Text(f" {c.name} is key {key} in `ipcs -q` while the run "
                              "lives", style="dim"))
    return lines


def refused_lines(queues: list) -> list[Text]:
    """One line per queue that turned non-blocking sends away (full: EAGAIN): counted by
    their senders, so they stay on screen instead of scrolling out of the event log."""
    lines = []
    for c in queues:
        refused = QueueView.of(c).refused
        if refused:
            line = Text(" ")
            line.append(f"{c.name} refused {refused} non-blocking send(s)", style="bold red")
            line.append(": queue full (EAGAIN), never sent")
            lines.append(line)
    return lines


def duplicate_lines(snap: Snapshot) -> list[Text]:
    """One line per worker that received duplicates: messages whose sender and sequence
    number it had seen before (a retry after a lost or late acknowledgement)."""
    lines = []
    for w in snap.workers:
        if w.duplicates:
            line = Text(" ")
            line.append(f"{w.name} received {w.duplicates} DUPLICATE(s)", style="bold red")
            line.append(": resent after no ack came in time")
            lines.append(line)
    return lines
