"""One moment per frame: the workers' counters and the kernel's view of every channel,
read while nothing that either counts can move.

A worker counts what it did after the system call that did it (a burst of writes is
counted at its end), so a reading taken while it runs can see bytes in a pipe that no
counter has written yet, or a message received that its sender has not counted. So, for
each frame, the sampler asks every worker to stand still at its next quiet point (the
CTRL_FREEZE cell; `WorkerRow.freeze`: a step boundary or a burst's end, where everything
done is counted) and waits until each live worker either stands there or waits in a
blocking call with everything counted (its WAITS cell odd). It then copies the table and
reads each channel's kernel view, and lets them go. A worker whose wait ended during the
reading (WAITS moved) makes the reading not whole, unless it is held at its boundary (a
pause, the final reading: its waits are looks at its cell) and took no grant. A worker
stopped by SIGSTOP or a zombie is not waited for; one that does not come within
FREEZE_WAIT (the machine's load keeps it off the CPU) makes the reading not whole, and
the sampler shows the last whole reading instead (see sampler.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipcviz.host.process import read_stat
from ipcviz.telemetry import table as T

#: how long a reading waits for the workers to reach a quiet point (a burst lasts tens of
#: microseconds; a worker the scheduler has set aside on a loaded machine, milliseconds)
FREEZE_WAIT = 0.01
#: ... and how long while no reading has been whole yet (the first frames of a run on a
#: loaded machine): there is no earlier moment to show instead
FIRST_WAIT = 0.25
#: the sampler's pause between two looks at the workers it waits for
LOOK_EVERY = 0.0001


@dataclass
class Moment:
    """One reading: a copy of the table, each channel's kernel view by name, and whether
    every live worker stood still (or waited with everything counted) throughout."""

    table: np.ndarray
    observed: dict[str, dict[str, Any]]
    whole: bool


@dataclass
class MomentStats:
    """How the readings went: readings taken, readings taken again (a channel relation
    broken), frames that showed an earlier whole reading, frames left unsettled (no whole
    reading yet), and the time spent waiting for workers."""

    readings: int = 0
    rereads: int = 0
    #: frames that showed the last whole reading (this one was not whole)
    earlier: int = 0
    unsettled: int = 0
    waited: float = 0.0
    #: readings that ended at FREEZE_WAIT with a worker still moving, and readings during
    #: which a worker's wait ended
    late: int = 0
    moved: int = 0


class MomentReader:
    """Takes Moments of one table (the runtime's)."""

    def __init__(self) -> None:
        self._token = 0
        self.stats = MomentStats()
        #: the last reading that was whole and kept every channel relation
        self.last: Moment | None = None

    def read(self, arr: np.ndarray, rows: list[int], channels: Iterable[Any],
             moving: Callable[[set[int]], list[int]] | None = None,
             columns: int | None = None,
             patience: float | None = None) -> Moment:
        """Freeze the workers of `rows` (the rows of workers that run steps), copy `arr`
        (its first `columns` cells of each row: the event rings are read live, by their
        own sequence numbers), observe `channels` (objects with `.name` and
        `.observe()`), let them go. When some row is not ready at the first look,
        `moving(rows)` says which of those not-ready rows can still move (not ended,
        stopped or a zombie): only those are waited for. A row ready at the first look
        stays one to watch (its wait may end meanwhile): asking about it too would
        read its /proc/PID/stat for nothing, since a process that cannot move leaves
        its row as it is. `patience`: how long to wait for them (default FREEZE_WAIT,
        FIRST_WAIT before any reading was whole).

        A worker whose steps are done (its OP cell T.OP_DONE) has counted all it will
        ever count and is ready too: it is on its way out of the process and reaches no
        quiet point again, and waiting for it made the last reading of a run not whole."""
        self._token = self._token % (1 << 40) + 1
        token = self._token
        self.stats.readings += 1
        arr[:, T.CTRL_FREEZE] = token
        try:
            index = np.asarray(rows, dtype=np.intp)
            start = time.monotonic()
            if patience is None:
                patience = FREEZE_WAIT if self.last is not None else FIRST_WAIT
            deadline = start + patience
            while True:
                cells = arr[index, T.FROZEN:T.WAITS + 1]
                waits = cells[:, -1]
                taken = arr[index, T.TAKEN]
                ready = ((cells[:, 0] == token) | (waits & 1 == 1)
                         | (arr[index, T.OP] == T.OP_DONE))
                if ready.all() or time.monotonic() > deadline:
                    break
                if moving is not None:  # (only rows not ready can be set aside)
                    unready = set(index[~ready].tolist())
                    index = np.concatenate((index[ready],
                                            np.asarray(moving(unready), dtype=np.intp)))
                    moving = None
                    continue
                time.sleep(LOOK_EVERY)
            self.stats.waited += time.monotonic() - start
            copy = arr[:, :columns].copy()
            copy[:, T.CTRL_FREEZE:T.FROZEN + 1] = 0  # the reading's own cells: not the run's
            observed = {c.name: c.observe() for c in channels}
            # a wait that ended moved the worker, unless it is held at its boundary (its
            # wait was a look at its cell: it counted nothing) and took no grant meanwhile
            moved = bool((((arr[index, T.WAITS] != waits) & (arr[index, T.HELD] != 1))
                          | (arr[index, T.TAKEN] != taken)).any())
            self.stats.late += not ready.all()
            self.stats.moved += moved
            whole = bool(ready.all()) and not moved
        finally:
            arr[:, T.CTRL_FREEZE] = 0
        return Moment(copy, observed, whole)


def moving_rows(procs: Iterable[Any], kids: Iterable[Any], stats: dict[int, tuple[Any, float]],
                among: set[int]) -> list[int]:
    """The rows of `among` a reading waits for: live workers that run steps (a program's
    row is never written), not stopped, a zombie or gone, at the last look at /proc
    (`stats`: pid -> (its /proc/PID/stat, cpu)) or, where that look saw it moving, now: a
    worker that ended since the last tick (its parent not yet told) reaches no quiet
    point either, and waiting for it would make the reading, and a run's last summary,
    an earlier one. Only the rows of `among` are looked at (a /proc read each)."""
    def still(pid: int) -> bool:
        known = stats.get(pid)
        if known is not None and known[0] is not None and known[0].state in "TtZ":
            return True
        now = read_stat(pid)
        return now is None or now.state in "TtZ"

    rows = [p.row for p in procs
            if p.row in among and p.alive and p.ident is not None
            and p.attached_argv is None and p.instance.definition.exec is None
            and not still(p.ident.pid)]
    return rows + [k.row for k in kids
                   if k.row in among and k.exit is None and not still(k.ident.pid)]
