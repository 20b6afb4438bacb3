"""Deadlock detection: a cycle in the wait-for graph of workers and semaphores (pure)."""

from __future__ import annotations


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
