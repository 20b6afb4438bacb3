"""The keys that control time: the run-wide pause, stepping and slow motion of a live run
(runtime/scheduler.py does the work), restarting the whole run, and the same keys on a
replay (its pace, pause and position instead)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipcviz.format import speed_text
from ipcviz.protocol import SPEED_FACTORS, PauseRun, ResumeRun, SetSpeed, StepAll, StepWorker
from ipcviz.tui.replay import ReplaySource
from ipcviz.tui.source import LiveSource, Source

if TYPE_CHECKING:
    from ipcviz.tui.live_view import LiveView
    from ipcviz.tui.reload import Reloader


class TimeKeys:
    """`space`, `n`, `N`, `-`/`+`, `ctrl+r`, and seeking in a replay, on the App's run."""

    def __init__(self, app: LiveView, reloader: Reloader) -> None:
        self.app = app
        self.reloader = reloader
        #: the speed last asked of a run, and of which source: presses quicker than frames
        #: each take one step from it, not from the last frame's speed
        self._speed_asked: tuple[Source | None, float | None] = (None, None)

    def toggle_run(self) -> None:
        """`space`: hold every worker at its next step boundary, or let the run go on
        (a replay: pause or play the recording)."""
        app = self.app
        if isinstance(app.source, ReplaySource):
            app.source.toggle_pause()
            return
        if app.latest is None:
            return
        app.send(PauseRun() if app.latest.mode == "run" else ResumeRun())

    def step_all(self) -> None:
        """`n`: every held worker performs exactly one operation."""
        self.app.send(StepAll())

    def step_worker(self) -> None:
        """`N`: only the selected worker performs exactly one operation."""
        worker = self.app.selected_worker
        if worker is not None:
            self.app.send(StepWorker(worker))

    def speed(self, direction: int) -> None:
        """`-` halves the speed (down to 1/64), `+` doubles it (up to 1); in a replay the
        playback speed (1/8 to 16)."""
        app = self.app
        if isinstance(app.source, ReplaySource):
            playback = app.source.change_speed(direction)
            app.notify(f"playback ×{playback:g}", timeout=2, markup=False)
            return
        if app.latest is None:
            return
        source, asked = self._speed_asked
        base = asked if source is app.source and asked is not None else app.latest.speed
        current = min(SPEED_FACTORS, key=lambda f: abs(f - base))
        index = SPEED_FACTORS.index(current) - direction
        factor = SPEED_FACTORS[max(0, min(len(SPEED_FACTORS) - 1, index))]
        if factor != base:
            app.send(SetSpeed(factor))
        self._speed_asked = (app.source, factor)
        app.notify(f"speed {speed_text(factor) or '×1'}", timeout=2, markup=False)

    def seek(self, frames: int, seconds: int) -> None:
        """Left/right: one frame back/on; shift: one second (replay only)."""
        source = self.app.source
        if not isinstance(source, ReplaySource):
            return
        if frames:
            source.seek_frames(frames)
        else:
            source.seek_seconds(seconds)

    def restart_all(self) -> None:
        """`ctrl+r`: the whole scenario again from the beginning: the file is read again
        and checked (reload.py), the old run is stopped and every process and object of
        it removed first, then a new run starts on the bytes that were checked."""
        if isinstance(self.app.source, LiveSource):
            self.reloader.reload_scenario()
