"""POSIX named semaphores (sem_open). The kernel keeps only a value; who holds it is
tracked by the workers' own counters (acquired - released), so a semaphore whose holder
died shows as held by a dead worker: POSIX does not release it on death.
"""

from __future__ import annotations

import posix_ipc

from typing import Protocol

from ipcviz.channels.base import PAGE, Channel, Room, Traffic
from ipcviz.channels.endpoints import Endpoint, LockEnd


class SemaphoreSpec(Protocol):
    """What a semaphore channel reads of its options."""

    @property
    def value(self) -> int:
        """Its initial value: the places free at the start."""


class SemaphoreEndpoint(LockEnd, Endpoint):
    """A worker's handle on a named semaphore (sem_open by its name)."""

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


class SemaphoreChannel(Channel[SemaphoreSpec]):
    kind = "semaphore"
    WAIT_CHANGES_IT = True  # acquire waits in sem_timedwait, which takes it as it ends

    @classmethod
    def room(cls, spec: SemaphoreSpec, traffic: Traffic) -> Room:
        """A named semaphore is a page in /dev/shm."""
        return Room(shm=PAGE)

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
