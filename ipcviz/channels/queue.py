"""`queue`: a message queue built the textbook way from kernel objects.

Messages are appended to a spool file in the run directory; a counting semaphore
`items` counts what is waiting, a semaphore `mutex` guards the read position and the
end of the spool (a message is appended whole or not at all), and:
- capacity N: a semaphore `spaces` (initially N) makes a full queue block its senders;
- capacity 0: a rendezvous: the sender waits on `ack` until a receiver took its message;
- unbounded: no `spaces`; a sender never blocks (the spool file just grows).
Depth is the value of `items`, read from the kernel.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from typing import Any, Literal, Protocol

import posix_ipc

from ipcviz.channels.base import PAGE, Channel, Room, Traffic, pages
from ipcviz.channels.endpoints import Endpoint, MessageEnd
from ipcviz.format import format_bytes
from ipcviz.channels.semaphore import SemaphoreEndpoint

_LENGTH = struct.Struct("<I")
_OFFSET = struct.Struct("<Q")
_HEADER_BYTES = _OFFSET.size  # the spool starts with the read position
#: a spool record: 4-byte length + the message header (channels/message.py)
SPOOL_RECORD_OVERHEAD = 4 + 8


class QueueSpec(Protocol):
    """What a `queue` channel reads of its options."""

    @property
    def capacity(self) -> int | Literal["unbounded"]:
        """The most messages it holds, 0 (a rendezvous) or "unbounded"."""


class _Sem(SemaphoreEndpoint):
    """A semaphore handle whose try_acquire may wait a little."""

    def try_acquire(self, seconds: float = 0) -> bool:
        return self.acquire_for(seconds)


class QueueEndpoint(MessageEnd, Endpoint):
    """A worker's handle on the queue: its own descriptors and semaphore handles."""

    #: no send call that waits: a full queue is waited out with `wait_sendable`
    waits_in_kernel = False

    def __init__(self, names: dict[str, str], path: str, capacity: int | str):
        self.fd = os.open(path, os.O_RDWR)
        self.sems = {role: _Sem(name) for role, name in names.items()}
        self.rendezvous = capacity == 0
        self.bounded = isinstance(capacity, int) and capacity > 0

    def send_now(self, message: bytes, priority: int = 0) -> bool:
        """Append the message; False when a bounded queue is full. An OSError (the spool's
        file system is full: ENOSPC, EDQUOT, EFBIG) leaves the queue as it was."""
        if self.bounded and not self.sems["spaces"].try_acquire():
            return False
        try:
            self._append(_LENGTH.pack(len(message)) + message)
        except OSError:
            if self.bounded:
                self.sems["spaces"].release()
            raise
        self.sems["items"].release()
        return True

    def send_blocking(self, message: bytes, priority: int = 0) -> None:
        """Append the message, waiting on `spaces` while a bounded queue is full (no
        kernel call waits for the whole send: the steps use send_now and wait_sendable)."""
        while not self.send_now(message, priority):
            self.wait_sendable()

    def _append(self, record: bytes) -> None:
        """Append one record whole or not at all. Under `mutex`, so no other sender can
        append behind a half-written record: a write cut short by a full file system is
        cut off the file again before the error is raised, and readers never see it."""
        mutex = self.sems["mutex"]
        while not mutex.try_acquire(0.2):
            pass
        try:
            end = os.fstat(self.fd).st_size
            view = memoryview(record)
            done = 0
            try:
                while done < len(view):
                    done += os.pwrite(self.fd, view[done:], end + done)
            except OSError:
                os.ftruncate(self.fd, end)
                raise
        finally:
            mutex.release()

    def wait_sendable(self, timeout_ms: int | None = None) -> None:
        if self.bounded and self.sems["spaces"].try_acquire((timeout_ms or 200) / 1000):
            self.sems["spaces"].release()  # only a wake-up: send_now takes it for real

    def wait_ack(self, seconds: float) -> bool:
        """Rendezvous: True once a receiver has taken the message."""
        return self.sems["ack"].try_acquire(seconds)

    def receive_now(self) -> tuple[bytes, int] | None:
        if not self.sems["items"].try_acquire():
            return None
        mutex = self.sems["mutex"]
        while not mutex.try_acquire(0.2):
            pass
        try:
            (offset,) = _OFFSET.unpack(os.pread(self.fd, _OFFSET.size, 0))
            offset = offset or _HEADER_BYTES
            (length,) = _LENGTH.unpack(os.pread(self.fd, _LENGTH.size, offset))
            message = os.pread(self.fd, length, offset + _LENGTH.size)
            os.pwrite(self.fd, _OFFSET.pack(offset + _LENGTH.size + length), 0)
        finally:
            mutex.release()
        if self.bounded:
            self.sems["spaces"].release()
        if self.rendezvous:
            self.sems["ack"].release()
        return message, 0

    def wait_receivable(self, timeout_ms: int | None = None) -> None:
        if self.sems["items"].try_acquire((timeout_ms or 200) / 1000):
            self.sems["items"].release()

    def depth(self) -> int:
        """Messages waiting: the value of `items` (senders waiting, in a rendezvous)."""
        return int(self.sems["items"].sem.value)

    def for_roles(self, roles: set[str]) -> QueueEndpoint:
        return self


class QueueChannel(Channel[QueueSpec]):
    kind = "queue"

    @classmethod
    def room(cls, spec: QueueSpec, traffic: Traffic) -> Room:
        """Its three semaphores in /dev/shm, and a spool file holding every message sent
        (or a full queue's worth, when senders never stop and it has a capacity)."""
        record = traffic.largest_message() + SPOOL_RECORD_OVERHEAD
        sends = traffic.sends()
        if sends != math.inf:
            return Room(shm=3 * PAGE, disk=pages(PAGE + sends * record))
        if spec.capacity == "unbounded":
            return Room(shm=3 * PAGE, unbounded=(("capacity",), (
                f"unbounded, and a sender never stops (loop, restart or repeat forever) "
                f"with {format_bytes(record)} messages: the spool file has no size limit; "
                "give the queue a capacity")))
        return Room(shm=3 * PAGE, disk=pages(PAGE + max(1, spec.capacity) * record))
    #: a wait for a message or for room takes the semaphore for an instant (a wake-up)
    WAIT_CHANGES_IT = True

    def create(self) -> None:
        capacity = self.spec.capacity
        self.path = str(self.registry.path(self.name)) + ".spool"
        self.registry.add("file", self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, _OFFSET.pack(_HEADER_BYTES))
        os.close(fd)
        initial = {"items": 0, "mutex": 1}
        if capacity == 0:
            initial["ack"] = 0
        elif capacity != "unbounded":
            initial["spaces"] = capacity
        self.names = {}
        for role, value in initial.items():
            name, sem = self.registry.create_ipc("semaphore", f"{self.name}.{role}",
                                                 functools.partial(_new_semaphore, value=value))
            sem.close()
            self.names[role] = name
        self.items = posix_ipc.Semaphore(self.names["items"])
        self.max_depth = 0

    def attach(self, roles: set[str]) -> QueueEndpoint:
        return QueueEndpoint(self.names, self.path, self.spec.capacity)

    def observe(self) -> dict:
        """Depth is the value of `items`; in a rendezvous (capacity 0) that value counts
        senders waiting for a receiver (`waiting_senders`): the queue holds no message."""
        try:
            waiting = self.items.value
        except posix_ipc.ExistentialError:
            waiting = 0
        capacity = self.spec.capacity
        depth = 0 if capacity == 0 else waiting
        self.max_depth = max(self.max_depth, depth)
        data = {"depth": depth, "capacity": capacity, "max_depth": self.max_depth,
                "spool_bytes": os.path.getsize(self.path) if os.path.exists(self.path) else 0}
        if capacity == 0:
            data["waiting_senders"] = waiting
        return data

    def close(self) -> None:
        try:
            self.items.close()
        except posix_ipc.ExistentialError:
            pass


def _new_semaphore(name: str, value: int) -> Any:
    """A POSIX semaphore of this name, created here (O_CREX: never one found there)."""
    return posix_ipc.Semaphore(name, posix_ipc.O_CREX, mode=0o600, initial_value=value)
