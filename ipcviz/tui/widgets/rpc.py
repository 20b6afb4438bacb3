"""RPC panel: per rpc channel, the calls each caller made (answered, in flight, timed
out, sent again, given up, latency) and what the server executed, with the calls it
executed twice because a retry reached it after it had done the work."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.telemetry.views import RpcView
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.grid import Cell, grid_lines
from ipcviz.tui.widgets.channel_panels import channels_in


def _ms(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _count(n: int, style: str) -> Text:
    return Text(str(n), style=style if n else "dim")


class RpcPanel(Panel):
    """Renders the rpc channels of a Snapshot."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        channels = channels_in("rpc", snap)
        self.set_shown(bool(channels))
        if not channels:
            return
        narrow = self.app.has_class("narrow")
        columns = ["caller", "calls", "answered", "in flight", "timeouts", "retries",
                   "gave up", "mean", "slowest"]
        if narrow:
            columns[3:7] = ["flying", "t/o", "retry", "gave up"]
        lines: list[Text] = []
        for c in channels:
            rpc = RpcView.of(c)
            head = Text(" ")
            head.append(f"{c.name}", style="bold")
            head.append(f"  JSON-RPC 2.0 over {rpc.family or 'unix'} socket "
                        f"{rpc.address}  server: {rpc.server}  "
                        f"connections: {rpc.connections}")
            lines.append(head)
            rows: list[list[Cell]] = []
            for who, f in rpc.callers.items():
                rows.append([Text(who, style="bold"), str(f.get("calls", 0)),
                             str(f.get("answered", 0)),
                             _count(int(f.get("in_flight", 0)), "yellow"),
                             _count(int(f.get("timeouts", 0)), "red"),
                             _count(int(f.get("retries", 0)), "yellow"),
                             _count(int(f.get("gave_up", 0)), "bold red"),
                             _ms(f.get("latency_ms_mean")), _ms(f.get("latency_ms_max"))])
            if rows:
                lines += grid_lines(columns, rows, self.text_width, right=range(1, 9))
            lines.append(self._server_line(rpc))
        self.show(lines)

    @staticmethod
    def _server_line(rpc: RpcView) -> Text:
        line = Text(" ")
        line.append(f"{rpc.server} executed {rpc.executed} call(s)")
        if rpc.executed_twice:
            line.append(f"  {rpc.executed_twice} EXECUTED TWICE", style="bold red")
            line.append(": a retry reached it after the work was done (at-least-once)")
        if rpc.errors:
            line.append(f"  {rpc.errors} invalid request(s) refused", style="red")
        return line
