"""Deadlock detection: a cycle in the wait-for graph of workers and semaphores, and
whether a cycle once named still stands (pure: plain values, or a frame's views)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipcviz.channels.lock_state import LockState


def find_cycle(waiting: dict[str, str], holders: dict[str, list[str]]) -> tuple[str, ...] | None:
    """`waiting`: worker -> semaphore it is blocked on (value 0); `holders`: semaphore ->
    workers holding it. Returns the cycle as (worker, semaphore, worker, semaphore, ...)
    starting from its alphabetically first worker, or None.
    """
    for start in sorted(waiting):
        path: list[str] = []
        position: dict[str, int] = {}
        worker: str | None = start
        while worker is not None and worker in waiting and worker not in position:
            position[worker] = len(path)
            sem = waiting[worker]
            path += [worker, sem]
            others = sorted(h for h in holders.get(sem, []) if h != worker)
            worker = others[0] if others else None
        if worker is not None and worker in position:
            cycle = path[position[worker]:]
            first = min(range(0, len(cycle), 2), key=lambda i: cycle[i])
            return tuple(cycle[first:] + cycle[:first])
    return None


def cycle_stands(cycle: tuple[str, ...], lives_then: dict[str, tuple[int | None, int]],
                 lives_now: dict[str, tuple[int | None, int]],
                 locks: dict[str, tuple[int | None, list[str]]]) -> bool:
    """Whether a deadlock named as `cycle` (worker, semaphore, worker, semaphore, ...:
    each worker waits for the semaphore after it, held by the next worker) still stands.
    `lives_then`/`lives_now`: each live worker's (pid, restarts) when the cycle was named
    and now (a worker that exited or became a zombie is left out); `locks`: semaphore ->
    (value, its live holders) now. It stands while every worker of it is the same live
    process and every semaphore of it has value 0 and is held by the next worker: a
    waiter can leave sem_wait only by taking the semaphore (its holders change), by
    dying, or after a post from outside the cycle (its holders change): nothing inside
    the cycle moves by itself."""
    workers, sems = cycle[0::2], cycle[1::2]
    for i, worker in enumerate(workers):
        life = lives_now.get(worker)
        if life is None or life != lives_then.get(worker):
            return False
        value, holders = locks.get(sems[i], (None, []))
        if value != 0 or workers[(i + 1) % len(workers)] not in holders:
            return False
    return True


def lives_of(workers: Iterable[Any]) -> dict[str, tuple[int | None, int]]:
    """Each live worker's (pid, restarts), from a frame's WorkerViews (a worker that
    exited, is a zombie or has not started is left out)."""
    return {w.name: (w.pid, w.restarts) for w in workers
            if w.pid and w.state not in ("exited", "zombie", "starting")}


def locks_of(channels: Iterable[Any]) -> dict[str, tuple[int | None, list[str]]]:
    """Each semaphore's (value, live holders), from a frame's ChannelViews."""
    out = {}
    for c in channels:
        if isinstance(c.state, LockState):
            out[c.name] = (c.state.value, c.state.live_holders())
    return out


class DeadlockWatch:
    """The deadlock of each frame, from the cycles found frame by frame: a cycle seen in
    two frames in a row is named (once: `seen`, `at`); once named, it stays named while
    it stands (`cycle_stands`), whatever one frame's reading of its workers says, and a
    cycle that no longer stands is never named again by its old name alone."""

    def __init__(self) -> None:
        self.seen: tuple[str, ...] | None = None
        self.at: float | None = None
        self._candidate: tuple[str, ...] | None = None
        self._named: tuple[str, ...] | None = None
        self._lives: dict[str, tuple[int | None, int]] = {}

    def frame(self, candidate: tuple[str, ...] | None, workers: Iterable[Any],
              channels: Iterable[Any], now: float) -> tuple[tuple[str, ...] | None, bool]:
        """This frame's deadlock, and whether it was first named now. `candidate`: the
        cycle this frame's wait-for graph has (find_cycle); `workers`, `channels`: the
        frame's views."""
        workers = list(workers)
        deadlock = candidate if candidate and candidate == self._candidate else None
        self._candidate = candidate
        if deadlock is None and self._named is not None and cycle_stands(
                self._named, self._lives, lives_of(workers), locks_of(channels)):
            deadlock = self._named
        if deadlock is not None and deadlock != self._named:
            self._lives = lives_of(workers)
        self._named = deadlock
        first = deadlock is not None and self.seen is None
        if first:
            self.seen, self.at = deadlock, round(now, 3)
        return deadlock, first
