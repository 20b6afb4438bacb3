"""Playing a recording back under the viewer's control: pause, playback speed, seeking by
a frame or a second. Every Snapshot it hands on carries `replay` (position, length,
speed, paused, at the end), so the header can say REPLAY and where it is."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from ipcviz.protocol import Command
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.source import OnError, OnSnapshot, Source

#: playback speeds `-` and `+` walk through
PLAYBACK_SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class ReplaySource(Source):
    """Plays a recording at its own pace (`speed` times faster); the viewer may pause,
    change the speed and seek. Commands meant for processes are ignored: there are none."""

    coalesce = False  # every frame of a recording counts (and a seek rebuilds the log)

    def __init__(self, snapshots: Sequence[Snapshot], speed: float = 1.0):
        self.snapshots = list(snapshots)
        self.speed = speed
        self.paused = False
        self._index = 0  # the next frame to show
        self._shown = -1  # the frame on screen
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._on_snapshot: OnSnapshot | None = None

    # ------------------------------------------------------------ playing

    def start(self, on_snapshot: OnSnapshot, on_error: OnError) -> None:
        self._on_snapshot = on_snapshot
        self._thread = threading.Thread(target=self._play, name="ipcviz-replay", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        with self._wake:
            while not self._stop.is_set():
                if self.paused or self._index >= len(self.snapshots):
                    if self._index >= len(self.snapshots) and self._shown >= 0 and not \
                            self._at_end_sent:
                        self._emit(self._shown, rebuild=False)  # say "end of recording"
                    self._wake.wait(0.5)
                    continue
                previous = self.snapshots[self._shown].elapsed if self._shown >= 0 else 0.0
                delay = max(0.0, self.snapshots[self._index].elapsed - previous) / self.speed
                index = self._index
                if self._wake.wait(delay) and index != self._index:
                    continue  # a seek or a speed change: start over from the new position
                if self.paused or self._stop.is_set() or index != self._index:
                    continue
                self._index += 1
                self._emit(index, rebuild=False)

    _at_end_sent = False

    def _emit(self, index: int, rebuild: bool) -> None:
        """Hand frame `index` on; with `rebuild`, its events are every event up to it
        (after a seek the event log starts again from the recording's beginning)."""
        snap = self.snapshots[index]
        self._shown = index
        at_end = index == len(self.snapshots) - 1 and self._index >= len(self.snapshots)
        self._at_end_sent = at_end
        events = snap.events
        if rebuild:
            events = tuple(e for s in self.snapshots[:index + 1] for e in s.events)
        info = {"position": snap.elapsed, "length": self.snapshots[-1].elapsed,
                "frame": index + 1, "frames": len(self.snapshots), "speed": self.speed,
                "paused": self.paused, "ended": at_end, "rebuild": rebuild}
        if self._on_snapshot is not None:
            self._on_snapshot(dataclasses.replace(snap, events=events, replay=info))

    # ------------------------------------------------------------ the viewer's keys

    def toggle_pause(self) -> None:
        with self._wake:
            if self._index >= len(self.snapshots):  # at the end: play again from the start
                self._index, self.paused = 0, False
                self._seek_to(0)
                return
            self.paused = not self.paused
            if self._shown >= 0:
                self._emit(self._shown, rebuild=False)
            self._wake.notify_all()

    def change_speed(self, direction: int) -> float:
        with self._wake:
            nearest = min(PLAYBACK_SPEEDS, key=lambda s: abs(s - self.speed))
            i = PLAYBACK_SPEEDS.index(nearest) + direction
            self.speed = PLAYBACK_SPEEDS[max(0, min(len(PLAYBACK_SPEEDS) - 1, i))]
            if self._shown >= 0:
                self._emit(self._shown, rebuild=False)
            self._wake.notify_all()
            return self.speed

    def seek_frames(self, frames: int) -> None:
        with self._wake:
            self._seek_to(max(0, self._shown) + frames)

    def seek_seconds(self, seconds: float) -> None:
        with self._wake:
            here = self.snapshots[max(0, self._shown)].elapsed if self.snapshots else 0.0
            target = here + seconds
            index = min(range(len(self.snapshots)),
                        key=lambda i: abs(self.snapshots[i].elapsed - target), default=0)
            self._seek_to(index)

    def _seek_to(self, index: int) -> None:
        """Show frame `index` now (held there when paused; playing on from it when not)."""
        if not self.snapshots:
            return
        index = max(0, min(len(self.snapshots) - 1, index))
        self._index = index + 1
        self._emit(index, rebuild=True)
        self._wake.notify_all()

    # ------------------------------------------------------------ Source

    def send(self, command: Command) -> None:
        pass

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(2)
