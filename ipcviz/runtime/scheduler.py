"""Run-wide time control: run, pause, step, slow motion, and a schedule ("you are the
scheduler"), on the real worker processes.

The runtime side of the step boundary (worker/boundary.py). Everything goes through
control cells of the telemetry table: the CTRL_PAUSE bits of every row (PAUSE_RUN holds
a worker at its next boundary, PAUSE_PACE paces it), CTRL_GRANTS (one operation per
grant) and CTRL_SPEED (the slow-motion divisor). A worker reads one cell per step, as
before; only a held or paced worker pays for more. What a held worker does next comes
back in its NEXT_* cells (`next_ops`).

A schedule (paced in slow motion: one entry per 1/(T.PACE_STEPS * f) s) lets one named
worker perform its next operation per entry, and waits until every worker has settled
(back at its boundary, blocked in the kernel, stopped or exited) before the next entry,
so the same schedule always gives the same result. An entry naming a worker that cannot
move is an error with the entry's index, not a hang.

The run clock (`run_time`: timeline, restarts, the event log's times) runs at speed f in
run mode and stands still while the run is paused, stepped or scheduled; `run_time_at`
gives its value at any wall time since the start (each start, stop and change of speed
is kept), so an event is dated on it where it happened. A run with a limit (headless, a
recording) lasts `limit` seconds of `spent()`: the run clock plus the time its schedule
took, at the same speed, so no schedule (one waiting on a worker's long `sleep`, or
entries enough to last a day in slow motion) keeps a run past its duration; a schedule
the limit cuts short is an error naming the entry it had reached.

Workers' sleeps are measured on `spent()`, which every row's CTRL_CLOCK cell carries
(telemetry/clock_cell.py, written at each start, stop and change of speed): it is the
run clock, except that it also runs while a schedule waits for a worker it granted a
`sleep`, which would otherwise never end.

A worker that runs a program (`exec:`, `attach:`) has no step boundary: a schedule
neither waits for it to settle nor can give it a turn (the loader refuses a schedule
naming one; the scheduler says so too, rather than wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable
import numpy as np

from ipcviz.channels.base import Channel
from ipcviz.runtime.clock_history import ClockHistory
from ipcviz.runtime.schedule_terms import (  # (the names the scheduler's users import)
    SPEEDS,
    Mode,
    NextOp,
    ScheduleError,
    describe_next,
    parse_schedule,
    speed_problem,
)
from ipcviz.runtime.whereabouts import Proc, Runtime, Whereabouts
from ipcviz.telemetry import clock_cell
from ipcviz.telemetry import table as T


class Scheduler:
    """The run-wide mode of one Runtime. The runtime calls `attach` once its table exists
    (before the forks) and `tick` from every poll; the app calls the rest."""

    def __init__(self, runtime: Runtime, schedule: list[str] | None = None,
                 after_schedule: str = "run", speed: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, held: bool = False):
        self.runtime = runtime
        self.clock = clock
        self.schedule = list(schedule or [])
        self.after_schedule = after_schedule
        self.mode: Mode = "schedule" if self.schedule else "run"
        #: a held start (`start: held`, live only): the mode the first space goes on in,
        #: until then nothing moves; None once the run has gone on (or was never held)
        self.held_from: Mode | None = None
        if held:
            self.held_from, self.mode = self.mode, "pause"
        #: operations granted so far (`n`, `N`, the schedule): the header's step count
        self.steps = 0
        self.speed = speed
        #: every grant made so far, by worker name, in order: the schedule performed
        self.performed: list[str] = []
        #: workers also ran freely before or between grants, so `performed` alone does not
        #: replay the run (what `q` prints says so)
        self.ran_freely = False
        self._free_since_grant = self.mode == "run"
        self.error: ScheduleError | None = None
        #: seconds of `spent()` a run with a limit lasts (Session sets it); None: live
        self.limit: float | None = None
        self._position = 0
        self._run_time = 0.0
        self._schedule_time = 0.0
        self._last = clock()
        self._started = False
        #: the run clock at each start, stop and change of speed since the start
        self._history = ClockHistory()
        self._places = Whereabouts(self._cells, self._channel_names, clock)
        self._next_grant = 0.0

    # ---------------------------------------------------------------- cells

    def attach(self) -> None:
        """Write the starting mode and speed into every row (workers read them from their
        first boundary on); the workers' clock stands at 0 until `start_clock`."""
        self._last = self.clock()
        self._write_speed()
        self._changed(self._last)
        if self.mode != "run":
            self._set_bit(T.PAUSE_RUN, True)

    def _cells(self) -> np.ndarray:
        table = self.runtime.table
        assert table is not None
        return table.array

    def _channel_names(self) -> list[str]:
        return [c.name for c in self.runtime.channels]

    def _set_bit(self, bit: int, on: bool) -> None:
        if self.runtime.table is None:
            return
        arr = self._cells()
        if on:
            arr[:, T.CTRL_PAUSE] |= bit
        else:
            arr[:, T.CTRL_PAUSE] &= ~bit

    def _write_speed(self) -> None:
        if self.runtime.table is None:
            return
        self._cells()[:, T.CTRL_SPEED] = round(1 / self.speed)
        self._set_bit(T.PAUSE_PACE, self.speed < 1)

    def _set_mode(self, mode: Mode) -> None:
        """Go on in `mode` from now: the clocks are brought up to now in the old mode."""
        now = self._advance_clock()
        self.mode = mode
        self._changed(now)

    def _changed(self, now: float) -> None:
        """The mode or the speed changed at wall time `now`: keep the run clock's new rate
        in its history, and write the workers' clock (`spent()`) into every row: running
        while the run runs or a schedule plays, else standing still."""
        running = self._started and self.mode in ("run", "schedule")
        if self._started:
            self._history.mark(now, self._run_time, self.speed if self.mode == "run" else 0.0)
        if self.runtime.table is not None:
            spent_us = round((self._run_time + self._schedule_time) * 1e6)
            self._cells()[:, T.CTRL_CLOCK] = clock_cell.running(
                round(now * 1e6), spent_us, round(1 / self.speed)) if running \
                else clock_cell.stopped(spent_us)

    # ---------------------------------------------------------------- controls

    def pause(self) -> None:
        """Every worker holds at its next step boundary (a schedule under way ends)."""
        self._set_mode("pause")
        self._set_bit(T.PAUSE_RUN, True)

    def resume(self) -> None:
        """Back to running (at the current speed); a held start's schedule plays on. The
        clock runs before the workers go: a worker let through into a `sleep` measures it
        on a running clock."""
        if self.held_from is not None:
            self.runtime.held_start_ends()
        if self._held_schedule():
            self.held_from = None
            self._set_mode("schedule")
            return
        self.held_from = None
        self._set_mode("run")
        self._free_since_grant = True
        self._set_bit(T.PAUSE_RUN, False)

    def set_speed(self, speed: float) -> None:
        """Slow motion: f in SPEEDS (1 is full speed)."""
        problem = speed_problem(speed)
        if problem:
            raise ValueError(problem)
        now = self._advance_clock()
        self.speed = speed
        self._write_speed()
        self._changed(now)

    def step(self, worker: str) -> bool:
        """Let `worker` (a name, or a spawned child's NAME#N) take exactly one operation;
        pauses the run first if it was running. False when it cannot move now."""
        if self.mode in ("run", "schedule"):
            self.pause()
        self.mode, self.held_from = "step", None  # (the clocks stand still, as paused)
        for name, row, proc in self._rows():
            if name == worker and self._places.of(row, proc)[0] == "held":
                self._grant(row, name)
                return True
        return False

    def step_all(self) -> list[str]:
        """Every worker held at a boundary takes one operation; returns their names. On
        a held start's schedule, only its next entry's worker does."""
        if self.mode in ("run", "schedule"):
            self.pause()
        self.mode = "step"
        if self._held_schedule():
            name = self.schedule[self._position]
            for row_name, row, proc in self._rows():
                if row_name == name and self._places.of(row, proc)[0] == "held":
                    self._grant(row, name)
                    self._position += 1
                    return [name]
            return []
        self.held_from = None
        moved = []
        for name, row, proc in self._rows():
            if self._places.of(row, proc)[0] == "held":
                self._grant(row, name)
                moved.append(name)
        return moved

    # ---------------------------------------------------------------- state

    @property
    def busy(self) -> bool:
        """A schedule is under way (the runtime polls often meanwhile)."""
        return self.mode == "schedule"

    def run_time(self) -> float:
        """The run clock: seconds of run time so far."""
        self._advance_clock()
        return self._run_time

    def start_clock(self) -> None:
        """The run starts now (every worker forked): run time 0."""
        self._run_time = self._schedule_time = 0.0
        self._last = self.clock()
        self._started = True
        self._history.clear()
        self._changed(self._last)

    def run_time_at(self, wall: float) -> float:
        """What the run clock read at wall time `wall` (of `clock`): 0 before the start."""
        return self._history.at(wall)

    def spent(self) -> float:
        """What a run with a limit has used of it: the run clock plus the time the
        schedule took (at the run's speed, as the run clock would have counted it)."""
        self._advance_clock()
        return self._run_time + self._schedule_time

    def _advance_clock(self) -> float:
        """Bring the clocks up to now in the current mode; returns now."""
        now = self.clock()
        if self.mode == "run":
            self._run_time += (now - self._last) * self.speed
        elif self.mode == "schedule":
            self._schedule_time += (now - self._last) * self.speed
        self._last = now
        return now

    def next_ops(self) -> dict[str, NextOp | None]:
        """Each worker's next operation while it is held at a boundary, else None."""
        table = self.runtime.table
        if table is None:
            return {}
        arr = table.array
        names = [c.name for c in self.runtime.channels]
        out: dict[str, NextOp | None] = {}
        for name, row, proc in self._rows():
            if not self._places.held(row, proc):
                out[name] = None
                continue
            kind = int(arr[row, T.NEXT_OP])
            channel = int(arr[row, T.NEXT_CHANNEL])
            out[name] = describe_next(kind, names[channel] if 0 <= channel < len(names)
                                      else None, int(arr[row, T.NEXT_ARG]), self._shape(channel))
        return out

    def settled(self) -> bool:
        """No worker is between two boundaries: each is held, paused, blocked in the
        kernel, stopped or gone (so what the table shows will not move by itself).
        Programs are not waited for: they have no boundaries and run as they like."""
        return all(self._places.of(p.row, p)[0] != "moving" for p in self.runtime.procs
                   if not p.runs_program)

    def _shape(self, channel: int) -> tuple[int, ...]:
        if 0 <= channel < len(self.runtime.channels):
            shape = getattr(self.runtime.channels[channel], "shape", None)
            if shape is not None:
                return tuple(shape)
        return ()

    def _rows(self) -> list[tuple[str, int, Proc | None]]:
        """(name, row, Proc or None for a spawned child) of every worker of the run."""
        rows: list[tuple[str, int, Proc | None]] = [(p.name, p.row, p)
                                                    for p in self.runtime.procs]
        rows += [(k.name, k.row, None) for k in self.runtime.spawned() if k.exit is None]
        return rows

    def _held_schedule(self) -> bool:
        """A held start's schedule has entries left (space plays them, n takes one)."""
        return self.held_from == "schedule" and self._position < len(self.schedule)

    def _grant(self, row: int, name: str) -> None:
        """One operation for `name`, logged with its place: "step 3/8: a: store counter[0]"
        on a schedule, "step 3: a: sleep" when stepped by hand."""
        self.steps += 1
        arr = self._cells()
        channels = [c.name for c in self.runtime.channels]
        channel = int(arr[row, T.NEXT_CHANNEL])
        what = describe_next(int(arr[row, T.NEXT_OP]), channels[channel] if 0 <= channel <
                             len(channels) else None, int(arr[row, T.NEXT_ARG]),
                             self._shape(channel)).detail
        on_schedule = self.mode == "schedule" or self._held_schedule()
        place = f"{self._position + 1}/{len(self.schedule)}" if on_schedule else self.steps
        self.runtime.log("runtime", f"step {place}: {name}: {what}", "runtime")
        arr[row, T.CTRL_GRANTS] = max(int(arr[row, T.CTRL_GRANTS]), int(arr[row, T.TAKEN])) + 1
        self.performed.append(name)
        if self._free_since_grant:
            self.ran_freely = True
            self._free_since_grant = False

    # ---------------------------------------------------------------- schedule

    def tick(self) -> None:
        """Called from every poll of the runtime: follow the schedule as far as it can go
        without waiting."""
        self._advance_clock()
        if self.mode != "schedule" or self.runtime.table is None:
            return
        by_name = {p.name: p for p in self.runtime.procs}
        if self.limit is not None and self._run_time + self._schedule_time >= self.limit:
            self._out_of_time(by_name)
            return
        while True:
            if not self.settled():
                return  # the last operation (or what it woke) has not settled yet
            if self._position >= len(self.schedule):
                self._finish()
                return
            name = self.schedule[self._position]
            proc = by_name.get(name)
            if proc is None:  # validated before the run; a defect if it happens
                self._fail(name, "no such worker")
                return
            place, why = self._places.of(proc.row, proc)
            if place != "held":
                self._fail(name, why)
                return
            now = self.clock()
            if now < self._next_grant:  # slow motion paces a schedule too
                return
            self._grant(proc.row, name)
            self._position += 1
            if self.speed < 1:
                self._next_grant = now + 1 / (T.PACE_STEPS * self.speed)

    def _finish(self) -> None:
        if self.after_schedule == "pause":
            self._set_mode("pause")
        else:
            when = self.runtime.elapsed  # before the workers go on: the cause comes first
            self.resume()
            self.runtime.log("runtime", "schedule done: running", "runtime", at=when)

    def _out_of_time(self, by_name: dict[str, Proc]) -> None:
        """The run's limit came with the schedule under way: an error naming the worker
        still moving (the one it waited for), else the entry it had reached."""
        moving = next((name for name, row, proc in self._rows()
                       if self._places.of(row, proc)[0] == "moving"), None)
        if moving is not None:
            self._position = max(0, self._position - 1)
        elif self._position < len(self.schedule):
            moving = self.schedule[self._position]
        else:
            moving = self.schedule[-1]
        self._fail(moving, f"the run's {self.limit:g} s were spent with the schedule "
                           "under way")

    def _fail(self, name: str, why: str) -> None:
        self.error = ScheduleError(self._position, name, why)
        self.runtime.log("runtime", self.error.text, "runtime")
        self._set_mode("pause")
