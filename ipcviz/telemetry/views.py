"""Typed views of a ChannelView's state, one per family of channel kinds, shaped for the
widgets that draw them: a view is read from the channel's typed state, a field it does
not have giving the value a kind starts at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ipcviz.channels.lock_state import LockState
from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.rpc_state import RpcState
from ipcviz.telemetry.snapshot import ChannelView, Holder


@dataclass(frozen=True)
class SemaphoreView:
    """A semaphore: its value, who holds it (dead holders too), who waits for it."""

    value: int | None
    holders: tuple[Holder, ...]
    waiters: tuple[str, ...]
    handoff: bool = False
    """Released by workers that did not take it: a turn passed between processes (a
    producer/consumer handshake), so nobody holds it."""
    busy: bool = False
    """Taken and given back faster than it can be read: the holders shown may be a burst
    behind the value."""
    initial: int | None = None
    """Its initial value: 1 for a mutex (one holder at most); None when not known."""
    max_held: int | None = None
    """The most places taken at once so far; None when not known."""

    @classmethod
    def of(cls, channel: ChannelView) -> SemaphoreView:
        sem = channel.state if isinstance(channel.state, LockState) else LockState()
        return cls(sem.value, tuple(sem.holders or ()), tuple(sem.waiters or ()),
                   bool(sem.handoff), bool(sem.busy), sem.initial, sem.max_held)

    def holds(self, worker: str) -> bool:
        """`worker` is one of its living holders."""
        return any(h.name == worker and h.alive for h in self.holders)

    def waiting_now(self) -> tuple[str, ...]:
        """Its waiters, less those a mutex's holders show got it: a worker's state is read
        before the holders, so one that took the mutex in between is shown holding it,
        and a worker never waits for a mutex it holds."""
        if self.initial != 1:
            return self.waiters
        return tuple(w for w in self.waiters if not self.holds(w))


@dataclass(frozen=True)
class QueueView:
    """A message queue (mqueue, queue): depth against capacity (0: a rendezvous; not an int
    when the kernel's limit is unknown) and the messages counted through it."""

    depth: int
    capacity: Any
    max_depth: int
    messages_sent: int
    messages_received: int
    refused: int = 0
    """Non-blocking sends the queue turned away because it was full (EAGAIN)."""
    waiting_senders: int = 0
    """A rendezvous (capacity 0): senders that offered a message and wait for a receiver
    to take it; a rendezvous itself holds none (its depth is 0)."""
    bytes_queued: int = 0
    """A queue bounded in bytes (System V): the bytes of the messages in it."""
    byte_capacity: int | None = None
    """A queue bounded in bytes: its bound (msg_qbytes); None for queues bounded in
    messages."""
    by_type: tuple[tuple[int, int, int, int | None], ...] = ()
    """A queue whose messages have types: (type, sent, received, still queued; None when
    the kernel cannot show a queued message's type) per type seen."""

    @classmethod
    def of(cls, channel: ChannelView) -> QueueView:
        q = channel.state if isinstance(channel.state, QueueState) else QueueState()
        depth, capacity = q.depth or 0, q.capacity if q.capacity is not None else 0
        waiting = q.waiting_senders or 0
        rendezvous = capacity == 0 and channel.kind == "queue"
        if rendezvous:  # frames that counted an offered message as the depth
            waiting, depth = max(waiting, depth), 0
        got, queued = q.received_by_type or {}, q.queued_by_type
        types = sorted({*map(int, got), *map(int, queued or {})})
        by_type = tuple((t, got.get(str(t), 0) + (queued or {}).get(str(t), 0),
                         got.get(str(t), 0),
                         None if queued is None else queued.get(str(t), 0)) for t in types)
        return cls(depth, capacity, 0 if rendezvous else q.max_depth or 0,
                   q.messages_sent or 0, q.messages_received or 0, q.refused or 0, waiting,
                   q.bytes_queued or 0, q.byte_capacity, by_type)


@dataclass(frozen=True)
class RpcView:
    """An rpc channel: the callers' calls (per caller too) and the servers' executions."""

    calls: int
    answered: int
    in_flight: int
    timeouts: int
    retries: int
    gave_up: int
    executed: int
    executed_twice: int
    errors: int
    latency_ms_mean: float | None
    latency_ms_max: float | None
    callers: dict[str, dict[str, Any]]
    address: Any
    server: Any
    connections: int
    family: str | None = None
    """The socket's address family: unix or tcp."""

    @classmethod
    def of(cls, channel: ChannelView) -> RpcView:
        rpc = channel.state if isinstance(channel.state, RpcState) else RpcState()
        return cls(rpc.calls or 0, rpc.answered or 0, rpc.in_flight or 0, rpc.timeouts or 0,
                   rpc.retries or 0, rpc.gave_up or 0, rpc.executed or 0,
                   rpc.executed_twice or 0, rpc.errors or 0, rpc.latency_ms_mean,
                   rpc.latency_ms_max, dict(rpc.callers or {}), rpc.address, rpc.server,
                   rpc.connections or 0, rpc.family)
