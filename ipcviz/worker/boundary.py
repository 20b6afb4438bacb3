"""The step boundary: the one place every step of a worker passes before it runs.

The runtime makes a worker stop at its next boundary by setting the worker's
CTRL_PAUSE cell; callers test that cell inline (one memoryview read, which even the
hot loops can afford) and call `hold` only when it is set. So there is one thing to
set and one function to extend for anything that must hold workers between steps: a
pause of one worker (`p`), the runtime's quiesce before a final reading, a run-wide
pause or a scheduler that lets one step through at a time.

Where the boundary is checked: before each step (`Interpreter.run_steps`), between
bursts of a one-step loop (`bursts.run_bursts`) and between bursts of an `increment`
(`steps/shm.py`). A burst is counted before it ends, so a worker held here has
nothing in flight; while the cell stays set after `hold` returns, bursts shrink to one
operation, so whatever `hold` lets through is one operation at a time.

The cell is a set of bits (T.PAUSE_*): PAUSE_WORKER holds until cleared (a worker's `p`,
the final reading); PAUSE_RUN, the run-wide hold of runtime/scheduler.py, lets one
operation through per grant (T.CTRL_GRANTS); PAUSE_PACE (slow motion) lets at most
T.PACE_STEPS * f operations through per second. A held worker says what it does next
(T.NEXT_OP, T.NEXT_CHANNEL, T.NEXT_ARG) so a person can predict before granting it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Union

from ipcviz.telemetry import table as T
from ipcviz.telemetry.clock_cell import STATE_MASK, STOPPED

if TYPE_CHECKING:
    from ipcviz.worker.row import WorkerRow

#: how often a held worker looks at its control cell again ...
POLL_SECONDS = 0.02
#: ... after the first FAST_POLLS looks, made this often while a schedule holds the run: a
#: worker a schedule is about to grant a step is usually granted within milliseconds
POLL_FAST = 0.0005
FAST_POLLS = 200

#: what the worker does next: (an OP code (T.OP_CODE), channel index or -1, detail), or a
#: function giving it when it depends on the moment (an increment's lock switch)
Next = Union[tuple[int, int, int], Callable[[], tuple[int, int, int]]]
NOTHING: tuple[int, int, int] = (0, -1, 0)


def hold(row: WorkerRow, next_op: Next = NOTHING) -> None:
    """Stay here (shown as paused, still handling signals) while the runtime says so;
    leave at once when an `exit` handler has run. `next_op` is published while held."""
    cells, pause_cell = row.cells, row.pause_cell
    if cells[pause_cell]:
        _wait_for_turn(row, next_op)
    row.signals.check_exit()
    cells[row.base + T.OP] = T.OP_RUNNING


def _publish(row: WorkerRow, next_op: Next) -> None:
    kind, channel, arg = next_op() if callable(next_op) else next_op
    cells, base = row.cells, row.base
    cells[base + T.NEXT_OP] = kind
    cells[base + T.NEXT_CHANNEL] = channel
    cells[base + T.NEXT_ARG] = arg


def _wait_for_turn(row: WorkerRow, next_op: Next) -> None:
    cells, pause_cell, base = row.cells, row.pause_cell, row.base
    grants, held, clock = base + T.CTRL_GRANTS, base + T.HELD, base + T.CTRL_CLOCK
    _publish(row, next_op)
    looks = 0
    waiting = False
    while True:
        flags = cells[pause_cell]
        if not flags:
            break
        if flags & (T.PAUSE_WORKER | T.PAUSE_RUN):
            if not flags & T.PAUSE_WORKER and cells[grants] > row.taken:
                cells[held] = 0  # first: the runtime must never see it held with no grant
                row.taken += 1   # outstanding while it is not at a boundary yet
                cells[base + T.TAKEN] = row.taken
                waiting = False
                break
            if not waiting:
                row.set_op(T.OP_PAUSED)
                cells[held] = 1
                waiting = True
            # quick looks only where a grant may come any moment: a schedule playing (the
            # run clock runs while the run is held). A worker held on its own (`p`, the
            # final reading) or by a person's pause, whose steps come at human speed, looks
            # every POLL_SECONDS, or hundreds of held workers waking every POLL_FAST take
            # the CPU from everything else just when the pause should show
            fast = (looks < FAST_POLLS and not flags & T.PAUSE_WORKER
                    and cells[clock] & STATE_MASK != STOPPED)
            row.wait(time.sleep, POLL_FAST if fast else POLL_SECONDS)
            looks += 1
            if callable(next_op):
                _publish(row, next_op)
            continue
        if waiting:  # resumed, maybe into slow motion
            cells[held] = 0
            waiting = False
        due = row.last_step + max(1, cells[base + T.CTRL_SPEED]) / T.PACE_STEPS
        now = time.monotonic()
        if now >= due:
            break
        row.wait(time.sleep, min(due - now, POLL_SECONDS))
    if waiting:
        cells[held] = 0
    row.last_step = time.monotonic()
