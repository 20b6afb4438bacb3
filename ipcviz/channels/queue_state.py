"""A message queue's state in one frame (mqueue, queue, sysv_queue), typed, with the
relations every frame keeps: what was sent is received or still queued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from ipcviz.channels.state import Broken, ChannelState
from ipcviz.channels.wire import Checked

__all__ = ["QueueState"]


@dataclass(frozen=True, kw_only=True)
class QueueState(ChannelState):
    """A message queue (mqueue, queue, sysv_queue): messages and bytes counted through it
    by the workers, and the kernel's depth against its capacity."""

    messages_sent: Annotated[int | None, Checked()] = None
    messages_received: Annotated[int | None, Checked()] = None
    bytes_sent: Annotated[int | None, Checked()] = None
    bytes_received: Annotated[int | None, Checked()] = None
    refused: int | None = None
    """Non-blocking sends the queue turned away because it was full (EAGAIN)."""
    empty_receives: Annotated[int | None, Checked()] = None
    """Non-blocking receives that found it empty."""
    depth: Annotated[int | None, Checked()] = None
    """Messages in it now."""
    capacity: Annotated[int | Literal["unbounded"] | None, Checked("mqueue", "queue")] = None
    """Messages it holds at most (0: a rendezvous; "unbounded")."""
    max_depth: Annotated[int | None, Checked()] = None
    message_size: int | None = None
    """A POSIX queue's largest message."""
    spool_bytes: int | None = None
    """A `queue`'s spool file's size."""
    waiting_senders: int | None = None
    """A rendezvous: senders waiting for a receiver to take their message."""
    bytes_queued: int | None = None
    """A queue bounded in bytes (System V): the bytes of the messages in it."""
    byte_capacity: int | None = None
    key: str | None = None
    """A System V queue's key ("0x...", as `ipcs -q` shows it)."""
    msqid: int | None = None
    queued_by_type: Annotated[dict[str, int] | None, Checked("sysv_queue")] = None
    """A queue whose messages have types: per type, the messages in it (None when the
    kernel cannot show a queued message's type)."""
    received_by_type: Annotated[dict[str, int] | None, Checked("sysv_queue")] = None
    sent_by_type: Annotated[dict[str, int] | None, Checked("sysv_queue")] = None

    COUNTERS: ClassVar[tuple[str, ...]] = ("messages_sent", "messages_received",
                                           "bytes_sent", "bytes_received", "refused",
                                           "empty_receives")

    def bytes_arrived(self) -> int:
        """The bytes of the messages received."""
        return self.bytes_received or 0

    def relations(self, before: ChannelState | None) -> list[Broken]:
        """Every message sent was received or is still in the queue (sent - received =
        depth, and for a rendezvous the senders waiting for their receiver), so received
        <= sent, and the depth stays within the capacity (none at all in a queue of
        capacity 0); with types, the same per type."""
        return (super().relations(before) + self._queue_relations()
                + self._type_relations())

    def _queue_relations(self) -> list[Broken]:
        out = []
        sent, got = self.messages_sent, self.messages_received
        depth, capacity = self.depth, self.capacity
        waiting = self.waiting_senders or 0
        if sent is not None and got is not None:
            if got > sent:
                out.append(Broken("received <= sent", {"sent": sent, "received": got}))
            if depth is not None and sent - got != depth + waiting:
                values = {"sent": sent, "received": got, "depth": depth}
                if waiting:
                    values["waiting senders"] = waiting
                out.append(Broken("sent - received = depth", values))
        if depth is not None and depth < 0:
            out.append(Broken("depth >= 0", {"depth": depth}))
        if isinstance(capacity, int) and depth is not None:
            if capacity == 0 and depth != 0:
                out.append(Broken("a zero-capacity queue holds no message", {"depth": depth}))
            elif depth > capacity:
                out.append(Broken("depth <= capacity", {"depth": depth, "capacity": capacity}))
        return out

    def _type_relations(self) -> list[Broken]:
        """The messages received by type add up to those received, the queued ones by type
        to the depth, and every type's sent = received + still queued."""
        if self.received_by_type is None and self.queued_by_type is None:
            return []
        out = []
        got, queued = self.received_by_type or {}, self.queued_by_type or {}
        received = self.messages_received
        if received is not None and sum(got.values()) != received:
            out.append(Broken("received by type adds up to received",
                              {"by type": sum(got.values()), "received": received}))
        if self.queued_by_type is not None and sum(queued.values()) != self.depth:
            out.append(Broken("queued by type adds up to the depth",
                              {"by type": sum(queued.values()), "depth": self.depth}))
        for t, sent in (self.sent_by_type or {}).items():
            if sent != got.get(t, 0) + queued.get(t, 0):
                out.append(Broken("sent = received + queued, per type",
                                  {"type": int(t), "sent": sent, "received": got.get(t, 0),
                                   "queued": queued.get(t, 0)}))
        return out
