"""The cost of a message (`count_syscalls: true`): for each compared channel, the
messages moved, the system calls that copied them per message (exact: two for a pipe, a
socket or a queue, none for shared memory), every system call per message (waiting
included: it varies from run to run) and the CPU time per message, all counted by the
kernel. Drawn by the speed panel in place of its race."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text

from ipcviz.channels.state import Cost
from ipcviz.format import bar
from ipcviz.telemetry.snapshot import ChannelView
from ipcviz.tui.widgets.grid import grid_lines

__all__ = ["COST_TITLE", "cost_lines", "counts_syscalls"]

#: the speed panel's title while it shows the cost of a message
COST_TITLE = "the cost of a message: system calls counted by the kernel"


def counts_syscalls(channels: Sequence[ChannelView]) -> bool:
    """Whether these compared channels carry the kernel's counts (or why they do not)."""
    return any(c.state.cost is not None for c in channels)


def cost_of(c: ChannelView) -> Cost:
    """The channel's system-call cost (one counting nothing when it has none)."""
    return c.state.cost or Cost(False)


def per_message(value: object) -> str:
    """A count per message, as few digits as say it."""
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value else "0"


def cost_lines(channels: Sequence[ChannelView], width: int, narrow: bool, running: bool,
               mechanism: Callable[[ChannelView], str]) -> list[Text]:
    """The table, and under it what its columns are; one line instead where the kernel
    would not count."""
    reason = next((str(cost.syscalls_unavailable) for c in channels
                   if (cost := cost_of(c)).syscalls_unavailable is not None), None)
    if reason is not None:
        return [Text(" system calls not counted: " + reason, style="bold yellow")]
    top = max((cost_of(c).cpu_us_per_message or 0.0 for c in channels),
              default=0.0) or 1.0
    rows: list[list[Text | str]] = []
    for c in sorted(channels, key=lambda c: (cost_of(c).cpu_us_per_message or 0.0,
                                             c.name)):
        cost = cost_of(c)
        name = Text(c.name, style="bold")
        cpu = float(cost.cpu_us_per_message or 0)
        gauge = Text(bar(cpu / top, 6 if narrow else 12), style="cyan")
        gauge.append(f" {cpu:,.1f} µs" if cost.cpu_us_per_message is not None else " -")
        cells: list[Text | str] = [
            name, mechanism(c), f"{cost.messages or 0:,}",
            Text(per_message(cost.copy_calls_per_message), style="bold green"),
            per_message(cost.syscalls_per_message), gauge]
        if narrow:
            cells = [name, *cells[2:]]
        rows.append(cells)
    columns = ["channel", "through", "messages", "copy calls/msg", "all calls/msg",
               "CPU per message"]
    if narrow:
        columns = ["channel", "msgs", "copy/msg", "all/msg", "CPU/msg"]
    lines = grid_lines(columns, rows, width,
                       right=range(2, 5) if not narrow else range(1, 4))
    lines.append(Text(" copy calls: into or out of the kernel (exact)" if narrow else
                      " copy calls: the calls that copy the message into or out of the "
                      "kernel (exact)", style="dim"))
    lines.append(Text(" all calls: waiting too (poll, futex): they vary by run"
                      + ("" if narrow else "; CPU: the pair's, from the kernel's task clock")
                      + ("" if not running else " · so far"), style="dim"))
    return lines
