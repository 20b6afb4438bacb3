"""What the parts of one run share: its kernel objects, its start time and its event log.

The runtime is made of parts (the workers' table, the signal sender, the timeline, the
cleaner...), each given what it needs when it is made. The kernel objects (registry,
telemetry table, channels, containment, process slots) exist only from `Runtime.start`
to its shutdown, so the parts hold this record of them rather than the objects: each
reads the run's current ones, None before the start and after the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ipcviz.channels.base import Channel
from ipcviz.host.limits import ProcessSlots
from ipcviz.host.registry import Registry
from ipcviz.runtime.containment import Containment
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import EventView


class Log(Protocol):
    """Records an event of the runtime's: `at` is seconds of elapsed time (None: now)."""

    def __call__(self, worker: str, text: str, kind: str, at: float | None = None) -> None: ...


@dataclass
class RunObjects:
    """The run's kernel objects, made by `Runtime.start` and closed at its shutdown."""

    registry: Registry | None = None
    table: T.Table | None = None
    channels: list[Channel] = field(default_factory=list)
    channel_by_name: dict[str, Channel] = field(default_factory=dict)
    #: the run's cgroup, or the tracking that stands for it
    containment: Containment | None = None
    slots: ProcessSlots | None = None

    def need_table(self) -> T.Table:
        """The table, for a part that runs only while the run does."""
        if self.table is None:
            raise RuntimeError("the run's table is not open")
        return self.table

    def need_registry(self) -> Registry:
        """The registry, for a part that runs only once the run has begun."""
        if self.registry is None:
            raise RuntimeError("the run has no registry")
        return self.registry


class RunClock:
    """When the run began (every worker forked): wall time since then is `elapsed`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.t0 = 0.0
        self.started = False

    def begin(self) -> None:
        """The run starts now."""
        self.t0 = self.clock()
        self.started = True

    def elapsed(self) -> float:
        """Seconds since the run began; 0 before it begins and after it ends."""
        return self.clock() - self.t0 if self.started else 0.0


class EventLog:
    """The runtime's events not yet sampled into a frame, in the order they happened."""

    def __init__(self, elapsed: Callable[[], float],
                 run_time_of: Callable[[float], float] | None = None):
        """`run_time_of`: the run clock at a time of `elapsed` (None: the events carry
        only the wall clock's time)."""
        self._elapsed = elapsed
        self._run_time_of = run_time_of
        self.pending: list[EventView] = []

    def log(self, worker: str, text: str, kind: str, at: float | None = None) -> None:
        """An event dated now or at `at` (seconds of elapsed time): a cause logged after
        its effect could act is dated when it happened, on both clocks."""
        when = self._elapsed() if at is None else at
        run = None if self._run_time_of is None else round(self._run_time_of(when), 3)
        self.pending.append(EventView(round(when, 3), worker, text, kind, run))

    def take(self) -> list[EventView]:
        """The pending events, which are pending no more."""
        events, self.pending = self.pending, []
        return events
