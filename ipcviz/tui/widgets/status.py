"""Top line: scenario, elapsed time, running/ended, and the lesson text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ipcviz.format import format_duration, speed_text
from ipcviz.telemetry.snapshot import Snapshot


#: the header's words for a held run (the run clock stands still meanwhile)
HELD_WORDS = {"pause": "PAUSED", "step": "PAUSED: STEPPING",
              "schedule": "SCHEDULE"}


class StatusBar(Static):
    """One line: `ipcviz │ Pipe two-way │ 12.3 s │ running`."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; the bar redraws when it changes."""

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        text = Text(" ipcviz ", style="bold reverse")
        if snap is None:
            text.append("  starting…")
        else:
            alive = sum(w.state not in ("exited", "zombie") for w in snap.workers)
            paused = sum(w.paused for w in snap.workers)
            # a held run and slow motion first, where no width of terminal cuts them off
            if snap.mode != "run" and snap.running:
                text.append(" ")
                text.append(f" {HELD_WORDS.get(snap.mode, snap.mode.upper())} ",
                            style="bold reverse yellow")
            if speed_text(snap.speed):
                text.append(" ")
                text.append(f" {speed_text(snap.speed)} ", style="bold reverse cyan")
            text.append(f"  {snap.scenario}  ", style="bold")
            clock = snap.elapsed if snap.run_time is None else snap.run_time
            text.append(f"│ {format_duration(clock)} │ ")
            if snap.running:
                text.append(f"running: {alive}/{len(snap.workers)} workers alive", style="green")
            else:
                text.append("ended: every worker has exited (q quits)", style="yellow")
            if paused:
                text.append(f" │ {paused} paused", style="magenta")
            if snap.dropped_events:
                text.append(f" │ {snap.dropped_events} events dropped", style="red")
        self.update(text, layout=False)


class LessonText(Static):
    """The scenario's description: what to watch for."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot (only its description is used)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._text: str | None = None

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        text = " ".join((snap.description if snap else "").split())
        if text != self._text:
            self._text = text
            self.update(Text(text))  # the scenario's own words: never read as markup
