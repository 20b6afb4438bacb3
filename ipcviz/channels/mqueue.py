"""POSIX message queues (mq_open): kept by the kernel, bounded, with priorities.
Messages stay in the queue when their sender dies, until someone receives them.
"""

from __future__ import annotations

import select
from typing import Protocol, runtime_checkable

import posix_ipc

from ipcviz.channels.base import Channel, Room, Traffic
from ipcviz.channels.endpoints import Endpoint, MessageEnd

#: Kernel bookkeeping per POSIX queue message: struct msg_msg and posix_msg_tree_node
#: (48 bytes each on 64-bit; ipc/mqueue.c charges both to RLIMIT_MSGQUEUE).
MQ_OVERHEAD = 48
MQ_PRIO_MAX = 32768

def mqueue_limits() -> dict[str, int]:
    """The kernel's limits from /proc/sys/fs/mqueue (for messages naming the setting)."""
    out = {}
    for name in ("msg_max", "msgsize_max", "queues_max"):
        try:
            with open(f"/proc/sys/fs/mqueue/{name}") as fh:
                out[name] = int(fh.read())
        except OSError:
            pass
    return out


class MqueueSpec(Protocol):
    """What a POSIX queue channel reads of its options."""

    @property
    def capacity(self) -> int:
        """The most messages it holds (mq_maxmsg)."""

    @property
    def message_size(self) -> int:
        """The largest message in bytes (mq_msgsize)."""


class PosixQueue(Protocol):
    """The calls of posix_ipc.MessageQueue the message bursts make directly."""

    def send(self, message: bytes | bytearray, timeout: float | None = None,
             priority: int = 0) -> None:
        """mq_send (mq_timedsend with a timeout: 0 never blocks, BusyError when full)."""
        ...

    def receive(self, timeout: float | None = None) -> tuple[bytes, int]:
        """mq_receive: (message, priority); BusyError when a timeout passes empty."""
        ...

    @property
    def current_messages(self) -> int:
        """Messages in the queue now (mq_getattr)."""
        ...


@runtime_checkable
class KernelQueueEnd(MessageEnd, Protocol):
    """A queue whose own system calls the message bursts make in a loop (worker/bursts.py):
    `mq` non-blocking with a timeout of 0, and both directions able to wait in the
    kernel's call."""

    mq: PosixQueue

    def receive_blocking(self) -> bytes:
        """Block in the kernel until a message comes: its bytes."""
        ...


class MqueueEndpoint(KernelQueueEnd, Endpoint):
    """send/receive that never block in the system call: they poll() the descriptor.
    A blocking send may also wait in mq_send itself (`send_blocking`)."""

    #: a blocking send waits in the kernel's own call (`send_blocking`)
    waits_in_kernel = True
    #: never a rendezvous: a message is delivered once it is in the queue
    rendezvous = False

    def __init__(self, name: str):
        mq = posix_ipc.MessageQueue(name)
        self.mq: PosixQueue = mq
        self._out = select.poll()
        self._out.register(mq.mqd, select.POLLOUT)
        self._in = select.poll()
        self._in.register(mq.mqd, select.POLLIN)

    def send_now(self, message: bytes, priority: int = 0) -> bool:
        try:
            self.mq.send(message, timeout=0, priority=priority)
            return True
        except posix_ipc.BusyError:
            return False

    def send_blocking(self, message: bytes, priority: int = 0) -> None:
        while True:
            try:
                self.mq.send(message, priority=priority)
                return
            except posix_ipc.SignalError:  # interrupted by a handled signal: go on
                continue

    def receive_blocking(self) -> bytes:
        """Wait in mq_receive for the next message (a handled signal does not end the wait)."""
        while True:
            try:
                return self.mq.receive()[0]
            except posix_ipc.SignalError:
                continue

    def wait_sendable(self, timeout_ms: int | None = None) -> None:
        self._out.poll(timeout_ms)

    def depth(self) -> int:
        """Messages in the queue now (mq_getattr)."""
        return int(self.mq.current_messages)

    def receive_now(self) -> tuple[bytes, int] | None:
        try:
            return self.mq.receive(timeout=0)
        except posix_ipc.BusyError:
            return None

    def wait_receivable(self, timeout_ms: int | None = None) -> None:
        self._in.poll(timeout_ms)

    def wait_ack(self, seconds: float) -> bool:
        """Never a rendezvous: a message sent is in the queue, taken or not."""
        return True

    def for_roles(self, roles: set[str]) -> MqueueEndpoint:
        return self


class MqueueChannel(Channel[MqueueSpec]):
    kind = "mqueue"

    @classmethod
    def room(cls, spec: MqueueSpec, traffic: Traffic) -> Room:
        """Kernel memory counted against RLIMIT_MSGQUEUE: a full queue's messages and their
        bookkeeping, and a tree node per priority in use (ipc/mqueue.c)."""
        return Room(kernel_queues=spec.capacity * (spec.message_size + MQ_OVERHEAD)
                    + min(spec.capacity, MQ_PRIO_MAX) * MQ_OVERHEAD)
    #: a send or receive that waits in the kernel moves its message as the wait ends
    WAIT_CHANGES_IT = True

    def create(self) -> None:
        try:
            self.ipc_name, self.mq = self.registry.create_ipc("mqueue", self.name, lambda name: (
                posix_ipc.MessageQueue(name, posix_ipc.O_CREX, mode=0o600,
                                       max_messages=self.spec.capacity,
                                       max_message_size=self.spec.message_size)))
        except (ValueError, OSError, posix_ipc.Error) as exc:
            limits = mqueue_limits()
            raise RuntimeError(
                f"channel '{self.name}': the kernel refused a message queue of "
                f"{self.spec.capacity} messages of {self.spec.message_size} bytes ({exc}); "
                f"limits: /proc/sys/fs/mqueue/msg_max={limits.get('msg_max')}, "
                f"msgsize_max={limits.get('msgsize_max')}, "
                f"queues_max={limits.get('queues_max')}") from None
        self.max_depth = 0

    def attach(self, roles: set[str]) -> MqueueEndpoint:
        return MqueueEndpoint(self.ipc_name)

    def observe(self) -> dict:
        try:
            depth = self.mq.current_messages
        except posix_ipc.ExistentialError:
            depth = 0
        self.max_depth = max(self.max_depth, depth)
        return {"depth": depth, "capacity": self.spec.capacity, "max_depth": self.max_depth,
                "message_size": self.spec.message_size}

    def close(self) -> None:
        try:
            self.mq.close()
        except posix_ipc.ExistentialError:
            pass
