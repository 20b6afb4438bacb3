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
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ipcviz.telemetry import table as T

if TYPE_CHECKING:
    from ipcviz.worker.row import WorkerRow

#: how often a held worker looks at its control cell again
POLL_SECONDS = 0.02


def hold(row: WorkerRow) -> None:
    """Stay here (shown as paused, still handling signals) while the runtime says so;
    leave at once when an `exit` handler has run."""
    cells, pause_cell = row.cells, row.pause_cell
    if cells[pause_cell]:
        row.set_op(T.OP_PAUSED)
        while cells[pause_cell]:
            row.wait(time.sleep, POLL_SECONDS)
    row.signals.check_exit()
    cells[row.base + T.OP] = T.OP_RUNNING
