"""Semaphores as the frame shows them: who holds one (the workers' own acquired - released
counts), who waits for it (the workers' states), and a deadlock among them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ipcviz.channels.lock_state import LockState
from ipcviz.telemetry.deadlock import find_cycle
from ipcviz.telemetry.snapshot import ChannelView, Holder, WorkerView


def semaphore_data(name: str, held: np.ndarray, workers: list[WorkerView],
                   owners: Mapping[int, str], held_before_life: Mapping[int, int]
                   ) -> dict[str, object]:
    """`holders` and `waiters` of semaphore `name`: `held` is acquired - released per row,
    `owners` each row's worker, `held_before_life` per row what earlier lives of that
    worker (before a restart) held of it. Released by a worker that did not take it (a
    turn handed between processes, a producer/consumer handshake): `handoff`, and no
    lock anyone holds."""
    state = {w.name: w.state for w in workers}
    holders: list[Holder] = []
    if (held < 0).any():
        return {"holders": holders, "waiters": waiters(name, workers), "handoff": True}
    for row in np.flatnonzero(held > 0):
        worker = owners.get(int(row), f"row {row}")
        dead = state.get(worker) in ("exited", "zombie")
        before = min(held_before_life.get(int(row), 0), int(held[row]))
        if before:  # taken by a life of this worker that has ended (then a restart)
            holders.append(Holder(f"{worker} (before its restart)", False))
        if held[row] > before:
            holders.append(Holder(worker, not dead))
    return {"holders": holders, "waiters": waiters(name, workers)}


def waiters(name: str, workers: Iterable[WorkerView]) -> list[str]:
    """The workers blocked acquiring semaphore `name`."""
    return [w.name for w in workers
            if w.state == "blocked" and w.waiting == ("acquire", name)]


def deadlock(workers: list[WorkerView], channels: tuple[ChannelView, ...]
             ) -> tuple[str, ...] | None:
    """A cycle of workers each blocked on a semaphore at 0 that the next one holds, as
    (worker, semaphore, worker, semaphore, ...), or None."""
    sems = {c.name: c.state for c in channels if isinstance(c.state, LockState)}
    if not sems:
        return None
    waiting: dict[str, str] = {}
    for w in workers:
        if w.state == "blocked" and w.waiting and w.waiting.op == "acquire":
            sem = w.waiting.on
            if sem is not None and sem in sems and sems[sem].value == 0:
                waiting[w.name] = sem
    holders = {name: [h.name for h in state.holders or ()] for name, state in sems.items()}
    return find_cycle(waiting, holders)
