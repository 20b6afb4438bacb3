"""`increment` and `set` on a shared array (POSIX shared memory seen through numpy)."""

from __future__ import annotations

from collections.abc import Callable

from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.worker.boundary import hold
from ipcviz.worker.bursts import BURST, unlocked_increments
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import compiles
from ipcviz.worker.steps.semaphores import give, take

Step = Callable[[], None]


def flat_index(index: int | list[int] | None, shape: tuple[int, ...]) -> int | None:
    """The position in the flattened array of `index` (None stays None)."""
    if index is None:
        return None
    flat = 0
    for i, n in zip(index if isinstance(index, list) else [index], shape):
        flat = flat * n + i
    return flat


@compiles("increment")
def compile_increment(row: WorkerRow, args: schema.IncrementArgs) -> Step:
    index = flat_index(args.index, row.ctx.endpoints[args.array].values.shape) or 0
    return lambda: increment(row, args, index)


def increment(row: WorkerRow, args: schema.IncrementArgs, index: int) -> None:
    """`times` plain read-modify-writes; each one under the semaphore when `lock:` is on.

    Unlocked ones run in bursts counted at their end; the step boundary is passed between
    bursts (one increment per pass while the worker is held there)."""
    array = row.ctx.endpoints[args.array]
    flat, last_writer = array.flat, array.last_writer
    cells, me, signals = row.cells, row.ctx.row, row.signals
    done_cell = row.counter(args.array, T.INCREMENTS)
    lock_off, pause_cell = row.base + T.CTRL_LOCK_OFF, row.pause_cell
    lock = row.ctx.endpoints[args.lock] if args.lock else None
    channel = row.index(args.array)
    row.set_op(T.OP_INCREMENT, channel)
    left, limit = args.times, BURST
    while left:
        n = min(limit, left)
        left -= n
        if lock is not None and not cells[lock_off]:
            for _ in range(n):  # each one under the lock, counted as it is done
                take(row, lock, args.lock)
                value = flat[index]
                flat[index] = value + 1
                last_writer[index] = me
                cells[done_cell] += 1
                give(row, lock, args.lock)
        else:  # a burst of plain read-modify-writes, counted at its end
            unlocked_increments(flat, index, n)
            last_writer[index] = me
            cells[done_cell] += n
        if left:
            if signals.exit_code is not None:
                signals.check_exit()
            if cells[pause_cell]:
                hold(row)
                limit = 1 if cells[pause_cell] else BURST
                row.set_op(T.OP_INCREMENT, channel)


@compiles("set")
def compile_set(row: WorkerRow, args: schema.SetArgs) -> Step:
    index = flat_index(args.index, row.ctx.endpoints[args.array].values.shape)
    return lambda: set_values(row, args, index)


def set_values(row: WorkerRow, args: schema.SetArgs, index: int | None) -> None:
    """Write `value` at `index`, or into every element when there is none."""
    array = row.ctx.endpoints[args.array]
    if index is None:
        array.flat[:] = args.value
        array.last_writer[:] = row.ctx.row
    else:
        array.flat[index] = args.value
        array.last_writer[index] = row.ctx.row
    row.emit(T.EV_SET, row.index(args.array), -1 if index is None else index)
