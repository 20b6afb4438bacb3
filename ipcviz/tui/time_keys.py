"""The keys that control time (a mixin of the App): the run-wide pause, stepping and slow
motion of a live run (runtime/scheduler.py does the work), restarting the whole run, and
the same keys on a replay (its pace, pause and position instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipcviz.format import speed_text
from ipcviz.protocol import SPEED_FACTORS, PauseRun, ResumeRun, SetSpeed, StepAll, StepWorker

if TYPE_CHECKING:
    from ipcviz.telemetry.snapshot import Snapshot


class TimeKeys:
    """Mixin of IpcvizApp: `space`, `n`, `N`, `-`/`+`, `ctrl+r`, and seeking in a replay."""

    latest: Snapshot | None

    @property
    def is_replay(self) -> bool:
        from ipcviz.tui.replay import ReplaySource

        return isinstance(getattr(self, "source", None), ReplaySource)

    def action_toggle_run(self) -> None:
        """`space`: hold every worker at its next step boundary, or let the run go on
        (a replay: pause or play the recording)."""
        if self.is_replay:
            self.source.toggle_pause()  # type: ignore[attr-defined]
            return
        if self.latest is None:
            return
        self._send(PauseRun() if self.latest.mode == "run" else ResumeRun())  # type: ignore[attr-defined]

    def action_step_all(self) -> None:
        """`n`: every held worker performs exactly one operation."""
        self._send(StepAll())  # type: ignore[attr-defined]

    def action_step_worker(self) -> None:
        """`N`: only the selected worker performs exactly one operation."""
        worker = self.selected_worker  # type: ignore[attr-defined]
        if worker is not None:
            self._send(StepWorker(worker))  # type: ignore[attr-defined]

    def action_speed(self, direction: int) -> None:
        """`-` halves the speed (down to 1/64), `+` doubles it (up to 1); in a replay the
        playback speed (1/8 to 16)."""
        if self.is_replay:
            speed = self.source.change_speed(direction)  # type: ignore[attr-defined]
            self.notify(f"playback ×{speed:g}", timeout=2, markup=False)  # type: ignore[attr-defined]
            return
        if self.latest is None:
            return
        # from the speed last asked of this run, not the last frame's: presses quicker
        # than frames each take one step
        source, asked = getattr(self, "_speed_asked", (None, None))
        base = asked if source is self.source and asked is not None else self.latest.speed  # type: ignore[attr-defined]
        current = min(SPEED_FACTORS, key=lambda f: abs(f - base))
        index = SPEED_FACTORS.index(current) - direction
        factor = SPEED_FACTORS[max(0, min(len(SPEED_FACTORS) - 1, index))]
        if factor != base:
            self._send(SetSpeed(factor))  # type: ignore[attr-defined]
        self._speed_asked = (self.source, factor)  # type: ignore[attr-defined]
        self.notify(f"speed {speed_text(factor) or '×1'}", timeout=2, markup=False)  # type: ignore[attr-defined]

    def action_seek(self, frames: int, seconds: int) -> None:
        """Left/right: one frame back/on; shift: one second (replay only)."""
        if frames:
            self.source.seek_frames(frames)  # type: ignore[attr-defined]
        else:
            self.source.seek_seconds(seconds)  # type: ignore[attr-defined]

    def action_restart_all(self) -> None:
        """`ctrl+r`: the whole scenario again from the beginning: the file is read again
        and checked (reload.py), the old run is stopped and every process and object of
        it removed first, then a new run starts on the bytes that were checked."""
        from ipcviz.tui.source import LiveSource

        if not isinstance(getattr(self, "source", None), LiveSource):
            return
        self._reload_scenario()  # type: ignore[attr-defined]

    def _restart_from(self, old: object, opened: object) -> None:
        from ipcviz.tui.source import LiveSource
        from ipcviz.tui.widgets.events import EventLog

        assert isinstance(old, LiveSource)
        if getattr(self, "source", None) is not old:  # pressed twice: one restart
            return
        old.stop()
        fresh = LiveSource(opened, old.speed, old.allow_exec, old.held)  # type: ignore[arg-type]
        self.latest = None
        log = self.query_one(EventLog)  # type: ignore[attr-defined]
        log.clear()
        self._start(fresh)  # type: ignore[attr-defined]
        self._source_view_follows(fresh)  # type: ignore[attr-defined]
        self.notify("restarted from the beginning", timeout=2, markup=False)  # type: ignore[attr-defined]
