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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the run clock when every worker had ended: the clock stops there
        self._ended_at: float | None = None

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        text = Text(" ipcviz ", style="bold reverse")
        if snap is None:
            self._ended_at = None
            text.append("  starting…")
        elif snap.replay is not None:
            self._replay(text, snap)
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
            if snap.running:
                self._ended_at = None
            elif self._ended_at is None or clock < self._ended_at:
                self._ended_at = clock
            shown = clock if snap.running else self._ended_at
            text.append(f"│ {format_duration(shown)} │ ")
            if snap.running:
                text.append(f"running: {alive}/{len(snap.workers)} workers alive", style="green")
            else:
                text.append("ended: every worker has exited (q quits)", style="yellow")
            if paused:
                text.append(f" │ {paused} paused", style="magenta")
            if snap.dropped_events:
                text.append(f" │ {snap.dropped_events} events dropped", style="red")
        self.update(text, layout=False)


    @staticmethod
    def _replay(text: Text, snap: Snapshot) -> None:
        """REPLAY, where in the recording, its pace; at the end, "end of recording"."""
        info = snap.replay or {}
        text.append(" ")
        text.append(" REPLAY ", style="bold reverse magenta")
        if info.get("paused"):
            text.append(" ")
            text.append(" PAUSED ", style="bold reverse yellow")
        if info.get("speed", 1) != 1:
            text.append(f"  ×{info['speed']:g}", style="bold cyan")
        text.append(f"  {snap.scenario}  ", style="bold")
        text.append(f"│ {format_duration(info.get('position', 0))} / "
                    f"{format_duration(info.get('length', 0))} "
                    f"(frame {info.get('frame', 0)}/{info.get('frames', 0)}) │ ")
        if info.get("ended"):
            text.append("end of recording", style="bold yellow")
        else:
            text.append("←/→ frame, shift ±1 s", style="dim")


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
