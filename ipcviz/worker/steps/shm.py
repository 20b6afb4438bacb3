"""`increment` and `set` on a shared array (POSIX shared memory seen through numpy)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next, hold
from ipcviz.worker.bursts import BURST, unlocked_increments
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import compiles, describes
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
    index = flat_index(args.index, row.ends.array[args.array].values.shape) or 0
    return lambda: increment(row, args, index)


@describes("increment")
def first_operation(row: WorkerRow, args: schema.IncrementArgs) -> Next:
    """What an increment does first when held before it: acquire its lock (while the lock
    is on), else load the element (looked at again while the worker waits)."""
    index = flat_index(args.index, row.ends.array[args.array].values.shape) or 0
    load = (T.OP_CODE["load"], row.index(args.array), index)
    if not args.lock:
        return load
    acquire = (T.OP_ACQUIRE, row.index(args.lock), 0)
    cells, lock_off = row.cells, row.base + T.CTRL_LOCK_OFF
    return lambda: load if cells[lock_off] else acquire


def increment(row: WorkerRow, args: schema.IncrementArgs, index: int) -> None:
    """`times` plain read-modify-writes; each one under the semaphore when `lock:` is on.

    Unlocked ones run in bursts counted at their end. While the worker is held at the
    step boundary (paused, stepped, scheduled, slowed), each increment is two operations,
    a load and a store, with the boundary between them (and, locked, an acquire before
    and a release after): a person stepping two workers sees the real race."""
    array = row.ends.array[args.array]
    flat, last_writer = array.flat, array.last_writer
    cells, me, signals = row.cells, row.ctx.row, row.signals
    done_cell = row.counter(args.array, T.INCREMENTS)
    lock_off, pause_cell = row.base + T.CTRL_LOCK_OFF, row.pause_cell
    freeze_cell = row.freeze_cell
    lock_name = args.lock
    lock = row.ends.lock[lock_name] if lock_name else None
    channel = row.index(args.array)
    row.set_op(T.OP_INCREMENT, channel)
    left = args.times
    passed = True  # the boundary before the step was just passed
    while left:
        if cells[freeze_cell]:  # the sampler reads a frame: every burst is counted
            row.freeze()
        if cells[pause_cell]:  # one operation per pass of the boundary
            _stepped_increment(row, args, index, passed)
            left -= 1
            passed = False
            row.set_op(T.OP_INCREMENT, channel)
            continue
        passed = False
        n = min(BURST, left)
        left -= n
        if lock_name and lock is not None and not cells[lock_off]:
            for _ in range(n):  # each one under the lock, counted as it is done
                take(row, lock, lock_name)
                value = flat[index]
                flat[index] = value + 1
                last_writer[index] = me
                cells[done_cell] += 1
                give(row, lock, lock_name)
        else:  # a burst of plain read-modify-writes, counted at its end
            unlocked_increments(flat, index, n)
            last_writer[index] = me
            cells[done_cell] += n
        if left and signals.exit_code is not None:
            signals.check_exit()


def _stepped_increment(row: WorkerRow, args: schema.IncrementArgs, index: int,
                       passed: bool) -> None:
    """One increment as separate operations, each after a pass of the boundary (the
    first one's pass may already be done: `passed`)."""
    array = row.ends.array[args.array]
    cells, pause_cell = row.cells, row.pause_cell
    channel = row.index(args.array)
    lock_name = None if cells[row.base + T.CTRL_LOCK_OFF] else args.lock

    def boundary(kind: str, where: int, arg: int = 0) -> None:
        if cells[pause_cell]:
            hold(row, (T.OP_CODE[kind], where, arg))

    if lock_name is not None:
        lock = row.ends.lock[lock_name]
        if not passed:
            boundary("acquire", row.index(lock_name))
        take(row, lock, lock_name)
        boundary("load", channel, index)
    elif not passed:
        boundary("load", channel, index)
    row.set_op(T.OP_INCREMENT, channel)
    value = array.flat[index]  # load ...
    row.emit(EV.LOADED, channel, number=index, value=int(value))  # one event per operation: the interleaving
    boundary("store", channel, index)  # ... the window another worker may write in ...
    row.set_op(T.OP_INCREMENT, channel)
    # a write is dated before it happens, a read after: a load that sees it comes later
    stored_ns = time.monotonic_ns()
    array.flat[index] = value + 1  # ... store
    row.emit(EV.STORED, channel, stored_ns, number=index, value=int(value + 1))
    array.last_writer[index] = row.ctx.row
    cells[row.counter(args.array, T.INCREMENTS)] += 1
    if lock_name is not None:
        boundary("release", row.index(lock_name))
        give(row, row.ends.lock[lock_name], lock_name)


@compiles("set")
def compile_set(row: WorkerRow, args: schema.SetArgs) -> Step:
    index = flat_index(args.index, row.ends.array[args.array].values.shape)
    return lambda: set_values(row, args, index)


def set_values(row: WorkerRow, args: schema.SetArgs, index: int | None) -> None:
    """Write `value` at `index`, or into every element when there is none."""
    array = row.ends.array[args.array]
    written_ns = time.monotonic_ns()  # before the write: a read that sees it comes after
    if index is None:
        array.flat[:] = args.value
        array.last_writer[:] = row.ctx.row
    else:
        array.flat[index] = args.value
        array.last_writer[index] = row.ctx.row
    row.emit(EV.SET, row.index(args.array), written_ns, number=-1 if index is None else index)


@describes("set")
def describe_set(row: WorkerRow, args: schema.SetArgs) -> Next:
    index = flat_index(args.index, row.ends.array[args.array].values.shape)
    return (T.OP_CODE["set"], row.index(args.array), -1 if index is None else index)
