"""POSIX named semaphores (sem_open). The kernel keeps only a value; who holds it is
tracked by the workers' own counters (acquired - released), so a semaphore whose holder
died shows as held by a dead worker: POSIX does not release it on death.
"""

from __future__ import annotations

import posix_ipc

from collections.abc import Mapping
from typing import Any

from ipcviz.channels.base import PAGE, Broken, Channel, Room, Traffic


class SemaphoreEndpoint:
    def __init__(self, name: str):
        self.sem = posix_ipc.Semaphore(name)

    def try_acquire(self) -> bool:
        try:
            self.sem.acquire(0)
            return True
        except posix_ipc.BusyError:
            return False

    def acquire_for(self, seconds: float) -> bool:
        try:
            self.sem.acquire(seconds)
            return True
        except (posix_ipc.BusyError, posix_ipc.SignalError):
            return False

    def release(self) -> None:
        self.sem.release()

    def for_roles(self, roles: set[str]) -> SemaphoreEndpoint:
        return self


class SemaphoreChannel(Channel):
    kind = "semaphore"
    WAIT_CHANGES_IT = True  # acquire waits in sem_timedwait, which takes it as it ends

    @classmethod
    def room(cls, spec: Any, traffic: Traffic) -> Room:
        """A named semaphore is a page in /dev/shm."""
        return Room(shm=PAGE)

    @classmethod
    def relations(cls, data: Mapping[str, Any], before: Mapping[str, Any] | None
                  ) -> list[Broken]:
        """A semaphore is held by at most `initial` workers (a mutex by one), its value is
        what is left of the initial value (value = initial - held, so value + holders <=
        initial, value >= 0), and nobody waits for it while holding it. A turn handed between processes (`handoff`:
        released by one that did not take it) has no holders to check."""
        out = super().relations(data, before)
        if data.get("handoff"):
            return out
        initial, value = data.get("initial"), data.get("value")
        holders = [h[0] if isinstance(h, (list, tuple)) else h
                   for h in data.get("holders", ())]
        if value is not None and value < 0:
            out.append(Broken("value >= 0", {"value": value}))
        if isinstance(initial, int) and initial > 0 and len(holders) > initial:
            out.append(Broken("held by at most its initial value", {
                "holders": holders, "initial": initial}))
        if isinstance(initial, int) and value is not None and value + len(holders) > initial:
            out.append(Broken("value + holders <= initial", {
                "value": value, "holders": holders, "initial": initial}))
        held = data.get("held")  # acquired - released, summed over the workers
        if (isinstance(initial, int) and value is not None and isinstance(held, int)
                and value != initial - held):
            out.append(Broken("value = initial - held", {
                "value": value, "initial": initial, "held": held}))
        both = sorted(set(holders) & set(data.get("waiters", ())))
        if both:
            out.append(Broken("nobody waits for a lock it holds", {"workers": both}))
        return out

    def create(self) -> None:
        self.max_held = 0
        self.ipc_name, self.sem = self.registry.create_ipc("semaphore", self.name, lambda name: (
            posix_ipc.Semaphore(name, posix_ipc.O_CREX, mode=0o600,
                                initial_value=self.spec.value)))

    def attach(self, roles: set[str]) -> SemaphoreEndpoint:
        return SemaphoreEndpoint(self.ipc_name)

    def observe(self) -> dict:
        """The kernel's value, and `max_held`: the most places taken at once (the initial
        value minus the lowest value read so far; 0 for a semaphore only ever released
        above its start, a turn passed between processes)."""
        try:
            value = self.sem.value
        except posix_ipc.ExistentialError:
            return {"value": None, "initial": self.spec.value, "max_held": self.max_held}
        self.max_held = max(self.max_held, self.spec.value - value)
        return {"value": value, "initial": self.spec.value, "max_held": self.max_held}

    def close(self) -> None:
        try:
            self.sem.close()
        except posix_ipc.ExistentialError:
            pass
