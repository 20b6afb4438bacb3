"""Where a worker is, as the scheduler sees it: held at its step boundary, paused by
its own `p`, moving, blocked in the kernel, asleep until a run clock that stands still
reaches its sleep's end, stopped or exited. Read from the worker's
control cells of the telemetry table and from /proc, with the words of why a worker
that is not held cannot take a step. Also what the scheduler reads of the runtime that
owns it (`Runtime`, `Proc`, `Child`: typed here so that the runtime's module and the
scheduler's do not import each other)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import numpy as np

from ipcviz.channels.base import Channel
from ipcviz.host.process import ProcessIdentity, read_stat
from ipcviz.signals import signal_name
from ipcviz.telemetry import clock_cell
from ipcviz.telemetry import table as T

#: a worker in a blocking call, asleep in the kernel this long, counts as blocked
BLOCK_CONFIRM = 0.005

Place = Literal["held", "paused", "moving", "blocked", "asleep", "stopped", "exited",
                "program"]


class Proc(Protocol):
    """What the scheduler reads of one of the runtime's worker processes."""

    @property
    def name(self) -> str: ...

    @property
    def row(self) -> int: ...

    @property
    def alive(self) -> bool: ...

    @property
    def ident(self) -> ProcessIdentity | None: ...

    @property
    def runs_program(self) -> bool: ...


class Child(Protocol):
    """What the scheduler reads of a child a worker spawned."""

    @property
    def name(self) -> str: ...

    @property
    def row(self) -> int: ...

    @property
    def exit(self) -> int | str | None: ...


class Runtime(Protocol):
    """What the scheduler reads of the runtime that owns it (typed here so that the
    runtime's module and this one do not import each other)."""

    @property
    def table(self) -> T.Table | None: ...

    @property
    def channels(self) -> Sequence[Channel]: ...

    @property
    def procs(self) -> Sequence[Proc]: ...

    def spawned(self) -> Sequence[Child]: ...

    @property
    def elapsed(self) -> float: ...

    def log(self, worker: str, text: str, kind: str, at: float | None = None) -> None: ...

    def held_start_ends(self) -> None: ...


class Whereabouts:
    """Tells where each worker is; a worker asleep in a blocking call counts as blocked
    once it has slept there BLOCK_CONFIRM seconds (before that it may be on its way)."""

    def __init__(self, cells: Callable[[], np.ndarray], channel_names: Callable[[], list[str]],
                 clock: Callable[[], float] = time.monotonic):
        """`cells`: the table's rows; `channel_names`: the run's channels, in order."""
        self._cells = cells
        self._channel_names = channel_names
        self._clock = clock
        self._blocked_since: dict[int, float] = {}

    def of(self, row: int, proc: Proc | None) -> tuple[Place, str]:
        """Where the worker of `row` is (`proc`: None for a spawned child), with the words
        of why it cannot move."""
        if proc is not None and (not proc.alive or proc.ident is None):
            return "exited", "it has exited"
        if proc is not None and proc.runs_program:
            return "program", "it runs a program: no step boundary holds it"
        cells = self._cells()[row]
        if _at_boundary(cells):
            if cells[T.CTRL_PAUSE] & T.PAUSE_WORKER:
                return "paused", "its steps are paused (p)"
            return "held", ""
        pid = int(cells[T.PID])
        stat = read_stat(pid) if pid else None
        if stat is None or stat.start_ticks != int(cells[T.START]) or stat.state in ("Z", "X"):
            return "exited", "it has exited"
        if stat.state in ("T", "t"):
            return "stopped", "it is stopped (SIGSTOP)"
        op = int(cells[T.OP])
        if op == T.OP_DONE:
            return "exited", "it has exited"
        if op == T.OP_SLEEP and int(cells[T.WAITS]) & 1:
            left = _sleep_left(cells)
            if left is not None:
                return "asleep", (f"it is asleep ({left:g} s of its sleep left, and the "
                                  "run clock stands still)")
        if op in T.BLOCKING_OPS and stat.state in ("S", "D"):
            now = self._clock()
            since = self._blocked_since.setdefault(row, now)
            if now - since >= BLOCK_CONFIRM:
                return "blocked", self._blocked_on(cells, op)
            return "moving", ""
        self._blocked_since.pop(row, None)
        return "moving", ""

    def held(self, row: int, proc: Proc | None) -> bool:
        """Whether `of` says the worker is held or paused at its boundary, from its control
        cells alone: the next operations of every frame of a held run ask it of every
        worker, and one asleep or moving is neither whatever /proc says of it."""
        if proc is not None and (not proc.alive or proc.ident is None or proc.runs_program):
            return False
        return _at_boundary(self._cells()[row])

    def _blocked_on(self, cells: np.ndarray, op: int) -> str:
        """The words for a worker blocked in operation `op`: on which channel or signal."""
        channel = int(cells[T.OP_CHANNEL])
        names = self._channel_names()
        on = names[channel] if 0 <= channel < len(names) else ""
        what = T.OP_NAMES.get(op, "?")
        if op == T.OP_WAIT_SIGNAL:
            on = signal_name(int(cells[T.OP_ARG]))
        return f"it is blocked ({what} {on})".replace(" )", ")")


def _at_boundary(cells: np.ndarray) -> bool:
    """The worker waits at its step boundary and has taken every grant it was given."""
    return bool(cells[T.HELD] and cells[T.TAKEN] >= cells[T.CTRL_GRANTS])


def _sleep_left(cells: np.ndarray) -> float | None:
    """The run time (s) left of a sleeping worker's `sleep` when the run clock stands
    still short of its end (so the worker will not move until the run goes on); else
    None. Read
    while the worker is inside a wait of its sleep (WAITS odd): it looks at the clock
    only when it wakes, and sleeps on while it finds it stopped short of the end."""
    state = int(cells[T.CTRL_CLOCK])
    if clock_cell.divisor(state) is not None:
        return None  # the clock runs: the sleep goes on by itself
    now = clock_cell.read(state, 0)
    end = int(cells[T.OP_ARG])
    return round((end - now) / 1e6, 3) if now is not None and now < end else None
