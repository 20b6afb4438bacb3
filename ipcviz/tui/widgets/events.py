"""The event log: what happened, when, to whom (bounded)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from ipcviz.telemetry.snapshot import EventView

MAX_LINES = 500
_KIND_STYLE = {"signal": "cyan", "exit": "yellow", "io": "magenta", "runtime": "green", "output": "white",
               "start": "dim"}


class EventLog(RichLog):
    """Appends each Snapshot's new events; keeps the last MAX_LINES."""

    can_focus = False  # arrows belong to the workers table; the wheel still scrolls

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)  # type: ignore[arg-type]

    def add_events(self, events: tuple[EventView, ...]) -> None:
        for event in events:
            line = Text(f"{event.t:7.2f}  ", style="dim")
            line.append(f"{event.worker:<12} ", style="bold")
            line.append(event.text, style=_KIND_STYLE.get(event.kind, ""))
            self.write(line)
