"""`acquire` and `release` on a semaphore (also used by `increment` with `lock:`)."""

from __future__ import annotations

from ipcviz.channels.endpoints import LockEnd
from ipcviz.telemetry import table as T
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import describes, handles


def take(row: WorkerRow, sem: LockEnd, name: str) -> None:
    """Acquire `sem`, shown as blocked on it while it is taken; counted once held."""
    if not sem.try_acquire():
        with row.blocked(T.OP_ACQUIRE, name):
            while not row.wait(sem.acquire_for, 0.2):
                pass
    row.cells[row.counter(name, T.ACQUIRED)] += 1


def give(row: WorkerRow, sem: LockEnd, name: str) -> None:
    sem.release()
    row.cells[row.counter(name, T.RELEASED)] += 1


@handles("acquire")
def acquire(row: WorkerRow, name: str) -> None:
    take(row, row.ends.lock[name], name)


@handles("release")
def release(row: WorkerRow, name: str) -> None:
    give(row, row.ends.lock[name], name)


@describes("acquire")
def describe_acquire(row: WorkerRow, name: str) -> Next:
    return (T.OP_ACQUIRE, row.index(name), 0)


@describes("release")
def describe_release(row: WorkerRow, name: str) -> Next:
    return (T.OP_CODE["release"], row.index(name), 0)
