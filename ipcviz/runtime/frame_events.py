"""The events of a frame: the workers' rings (each row's events since the last frame) and
the runtime's own, in the order they happened, each held back a moment so that one
logged late by its writer still takes its place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import CATEGORY, unpack
from ipcviz.telemetry.snapshot import EventView

if TYPE_CHECKING:
    from ipcviz.runtime.supervisor import Runtime

#: how long an event waits before it is shown, so that events reach the screen in the
#: order they happened even when their writers log them a moment late
EVENT_HOLD = 0.05

#: (shown time, 0 for the runtime's and 1 for a worker's, exact time, the event)
Keyed = tuple[float, int, float, EventView]


class FrameEvents:
    """The runtime's events and its workers' event rings, read frame by frame."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: events a worker's ring lost before they were read (it wrote faster)
        self.dropped = 0
        self._seen: dict[int, int] = {}
        #: events kept back for the next frame (see `take`)
        self._held: list[Keyed] = []
        self._array_shapes: dict[int, tuple[int, ...]] | None = None

    def take(self, arr: np.ndarray | None, rows: list[tuple[int, str]],
             channel_names: list[str], row_names: list[str], now: float, flush: bool
             ) -> list[EventView]:
        """The events to show in this frame, from `arr` (its copy of the table; `rows`:
        (row, worker name) of every worker) and the runtime. Events younger than
        EVENT_HOLD, the workers' and the runtime's, wait for the next frame (one that is
        dated earlier may still be on its way: a sender logs "sent" after kill() returns,
        and the receiver can log "woke" first; a worker's last event can land after the
        runtime reaped it); `flush` (the end of a run) gives them all. Exact times order
        the workers' events (effect after cause even within one millisecond); at equal
        shown times the runtime's (a timeline signal, a key) come first: they are the
        cause."""
        keyed: list[Keyed] = []
        if arr is not None and self.runtime.table is not None:
            # each row's event count, read once: a row with nothing new is not looked at
            seqs = arr[:, T.EVENT_SEQ].tolist()
            for row, name in rows:
                if seqs[row] > self._seen.get(row, 0):
                    keyed += self._ring(row, name, channel_names, row_names)
        keyed += [(e.t, 0, e.t, e) for e in self.runtime.take_events()]
        keyed += self._held
        keyed.sort(key=lambda k: k[:3])
        if flush:
            self._held = []
        else:
            cut = now - EVENT_HOLD
            # the runtime's events wait too: its "exited" must not pass the worker's last
            # words, which can reach the table after the runtime has reaped it
            self._held = [k for k in keyed if k[2] > cut]
            keyed = [k for k in keyed if not k[2] > cut]
        return [k[3] for k in keyed]

    def _ring(self, row: int, name: str, channel_names: list[str], row_names: list[str]
              ) -> list[Keyed]:
        """Row `row`'s events since the last frame, typed, on both clocks."""
        table = self.runtime.table
        assert table is not None
        raw, seq, dropped = table.events_since(row, self._seen.get(row, 0))
        self._seen[row] = seq
        self.dropped += dropped
        out = []
        t0_ns = int(self.runtime.t0 * 1e9)
        run_time_of = self.runtime.run_time_of
        for t_ns, code, channel, values in raw:
            event = unpack(code, channel, values, channel_names, row_names, T.OP_NAMES,
                           self._shapes())
            exact = (t_ns - t0_ns) / 1e9
            shown = round(exact, 3)
            run_time = round(run_time_of(exact), 3)
            view = (EventView(shown, name, "", CATEGORY[event.code], run_time, event)
                    if event is not None else
                    EventView(shown, name, f"event {code} {values}", "info", run_time))
            out.append((shown, 1, exact, view))
        return out

    def _shapes(self) -> dict[int, tuple[int, ...]]:
        """Each shared array's shape by channel index (events name an element [row, col])."""
        shapes = self._array_shapes
        if shapes is None:
            shapes = self._array_shapes = {}
            for channel in self.runtime.channels:
                shape = getattr(channel, "shape", None)  # (only an array's has one)
                if shape is not None:
                    shapes[channel.index] = tuple(shape)
        return shapes
