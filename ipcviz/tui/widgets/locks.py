"""Locks panel: each semaphore's value, who holds it (a dead holder too), who waits,
and a deadlock named when the wait-for graph has a cycle.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from ipcviz.telemetry.snapshot import ChannelView, Snapshot
from ipcviz.telemetry.views import SemaphoreView
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.grid import grid_lines
from ipcviz.tui.widgets.channel_panels import channels_in


def cycle_text(cycle: tuple[str, ...]) -> str:
    """('a', 'lock_b', 'b', 'lock_a') -> 'a waits for lock_b held by b, b waits for ...'."""
    parts = []
    for i in range(0, len(cycle), 2):
        worker, sem = cycle[i], cycle[i + 1]
        holder = cycle[(i + 2) % len(cycle)]
        parts.append(f"{worker} waits for {sem} held by {holder}")
    return "; ".join(parts)


def stuck_text(sems: list) -> str:
    """Workers waiting on a semaphore (value 0) whose every holder is dead: nobody alive
    can release it (POSIX semaphores are not released when their holder dies), so they
    wait forever. '' when there are none."""
    parts = []
    for c in sems:
        sem = SemaphoreView.of(c)
        if sem.value == 0 and sem.waiters and sem.holders and not any(
                h.alive for h in sem.holders):
            dead = ", ".join(h.name for h in sem.holders)
            parts.append(f"{', '.join(sem.waiters)} still waits for {c.name}, held by dead "
                         f"worker {dead}: nobody alive can release it, so it waits forever")
    return "; ".join(parts)


class LocksPanel(Panel):
    """Renders the semaphores of a Snapshot and any deadlock."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot."""

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        sems = channels_in("locks", snap)
        key = (snap.deadlock, snap.deadlock_seen, tuple(
            (c.name, view.value, view.holders, view.waiters, view.handoff, view.busy,
             view.max_held)
            for c, view in ((c, SemaphoreView.of(c)) for c in sems)))
        if key == self._key:
            return
        self._key = key
        self.set_shown(bool(sems))
        parts: list[Text] = []
        if snap.deadlock:
            parts.append(Text(f" DEADLOCK: {cycle_text(snap.deadlock)} ",
                              style="bold white on red"))
        elif snap.deadlock_seen:
            stuck = stuck_text(sems)
            if stuck:  # the cycle lost a member, yet its waiter can never go on
                parts.append(Text(f" deadlock at {snap.deadlock_at:.1f} s; the cycle is gone "
                                  f"but {stuck} ", style="bold white on red"))
            else:
                parts.append(Text(f" deadlock at {snap.deadlock_at:.1f} s (now broken): "
                                  f"{cycle_text(snap.deadlock_seen)} ", style="bold red"))
        rows: list[list[Text | str]] = []
        for c in sems:
            sem = SemaphoreView.of(c)
            value, holders = sem.value, sem.holders
            held = Text()
            for i, holder in enumerate(holders):
                if i:
                    held.append(", ")
                held.append(holder.name if holder.alive else f"dead worker {holder.name}",
                            style="bold" if holder.alive else "bold red")
            if sem.handoff and not holders:
                held = Text("nobody: a turn passed between workers", style="dim")
            elif sem.busy:
                held = Text("changing hands too fast to read", style="dim")
            rows.append([Text(c.name, style="bold"),
                          Text(str(value), style="red" if value == 0 else "green"),
                          held if holders or sem.handoff or sem.busy
                          else Text("-", style="dim"),
                          Text(", ".join(sem.waiting_now()) or "-", style="yellow")])
        parts += grid_lines(("semaphore", "value", "held by", "waiting"), rows, self.text_width)
        parts += [room_line(c) for c in sems if (SemaphoreView.of(c).initial or 0) > 1]
        self.show(parts)


def room_line(channel: ChannelView) -> Text:
    """A counting semaphore (initial value above 1) in numbers: places taken now of its
    initial value, the most taken at once so far, how many wait. The value the kernel
    holds is the truth; the places taken now are the initial value less it."""
    sem = SemaphoreView.of(channel)
    name = channel.name
    initial = sem.initial or 0
    line = Text(f" {name}: ", style="bold")
    if sem.value is None:
        return line.append("its value cannot be read", style="dim")
    taken = max(0, initial - sem.value)
    line.append(f"{taken} of {initial} places taken", style="bold")
    most = sem.max_held
    if most is not None:
        line.append(f", most at once {most}")
    waiting = len(sem.waiting_now())
    line.append(f" · {waiting} waiting", style="yellow" if waiting else "dim")
    return line
