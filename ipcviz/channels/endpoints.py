"""What a worker's end of a channel promises the step handlers: one `typing.Protocol` per
shape of end that several kinds share. A kind's `attach` (in the worker, after fork)
returns its own endpoint class; the step handlers see it only through the protocol of
the shape they use (worker/ends.py hands it to them, checked once per channel), so a
new kind works with the steps of its family by having these methods, nothing more.

- `Endpoint`: what a child a worker spawns keeps of the end (`for_roles`); every
  bundled endpoint has it besides the shape its steps use.
- `StreamEnd`: a byte stream (pipe, FIFO, socket; `write` and `read`, `echo`).
- `PipeEnd`: a byte stream whose ends are plain descriptors (pipe, FIFO): the fast
  paths and bursts write and read those directly.
- `MessageEnd`: a message queue (`send` and `receive`); `TypedMessageEnd` one whose
  messages carry a type (System V).
- `LockEnd`: a semaphore (`acquire`, `release`, and `increment` with `lock:`).

Shapes only one kind has are in that kind's module: `KernelQueueEnd` (mqueue.py, the
message bursts), `MappedEnd` (mmap_file.py), `PageEnd` (page.py), `WindowEnd`
(window.py), `ShmEnd` (shm_object.py), `ArrayEnd` (shared_array.py), `FileEnd`
(file_channel.py), `RpcClientEnd` and `RpcServerEnd` (rpc.py).

Nothing here blocks unless it says so: a step that must wait calls a `wait_*` method,
shown as blocked on the channel while it sits in it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Endpoint", "LockEnd", "MessageEnd", "PipeEnd", "StreamEnd", "TypedMessageEnd"]


@runtime_checkable
class Endpoint(Protocol):
    """Any worker's end of a channel."""

    def for_roles(self, roles: set[str]) -> Endpoint:
        """The end a child spawned with `roles` on the channel holds: inherited from its
        parent (a pipe's descriptors), or its own (a socket connection, a mapping)."""
        ...


@runtime_checkable
class StreamEnd(Protocol):
    """A byte stream. Neither call blocks: a full or empty stream is waited out with
    `wait_writable` or `wait_readable`, which return when it may have changed."""

    def write_some(self, data: memoryview) -> int:
        """Write what fits now: the bytes written, 0 when there is no room (or, for a
        server, no client yet). BrokenPipeError when no reader is left."""
        ...

    def wait_writable(self, timeout_ms: int | None = None) -> None:
        """Block until there may be room (at most `timeout_ms`; None: no limit)."""
        ...

    def read_some(self, nbytes: int) -> bytes | None:
        """Up to `nbytes` there now; None when nothing is there yet, b'' at the end of the
        stream (no writer left: the reading worker ends)."""
        ...

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        """Block until bytes (or the end) may be there (at most `timeout_ms`)."""
        ...


@runtime_checkable
class PipeEnd(StreamEnd, Protocol):
    """A byte stream whose ends are this process's descriptors, None for an end it does
    not hold. The descriptors are non-blocking: a fast path's os.write or os.read raises
    BlockingIOError where `write_some` or `read_some` would say 0 or None."""

    read_fd: int | None
    write_fd: int | None

    def forget(self, fd: int) -> None:
        """`fd` is about to be closed (a kept end, `close`): drop what refers to it."""
        ...


@runtime_checkable
class MessageEnd(Protocol):
    """A message queue: whole messages in, whole messages out, in the kernel's order.
    `send_now` and `receive_now` never block; the `wait_*` calls do, up to their timeout,
    and return when the queue may have changed (they take nothing)."""

    #: a blocking send waits in the kernel's own call (`send_blocking`): the worker is
    #: shown blocked while the kernel says so; else it polls `send_now` and `wait_sendable`
    waits_in_kernel: bool
    #: a queue of capacity 0: a sender waits (`wait_ack`) until a receiver took its message
    rendezvous: bool

    def send_now(self, message: bytes, priority: int = 0) -> bool:
        """Put `message` in the queue if there is room now: True, or False when full.
        OSError when the kernel refuses it (the queue is gone, its spool is full)."""
        ...

    def send_blocking(self, message: bytes, priority: int = 0) -> None:
        """Put `message` in the queue, blocking until there is room (a handled signal
        does not end the wait)."""
        ...

    def wait_sendable(self, timeout_ms: int | None = None) -> None:
        """Block until there may be room (at most `timeout_ms`)."""
        ...

    def wait_ack(self, seconds: float) -> bool:
        """Block until a receiver has taken the last message sent (at most `seconds`):
        True once it has. Only a rendezvous waits; any other queue says True at once."""
        ...

    def receive_now(self) -> tuple[bytes, int] | None:
        """(the next message, its priority: 0 where the kind has none), or None when the
        queue is empty."""
        ...

    def wait_receivable(self, timeout_ms: int | None = None) -> None:
        """Block until a message may be there (at most `timeout_ms`)."""
        ...

    def depth(self) -> int:
        """Messages in the queue now, as the kernel counts them."""
        ...


@runtime_checkable
class TypedMessageEnd(MessageEnd, Protocol):
    """A queue whose messages carry a type (a positive number the sender chooses)."""

    def of_type(self, wanted: int) -> MessageEnd:
        """The same queue, sending messages of type `wanted`, or receiving only those."""
        ...

    def tally_cell(self) -> int | None:
        """The counter cell the last message received adds one to (its type's), or None."""
        ...


@runtime_checkable
class LockEnd(Protocol):
    """A counting semaphore: taking a place may wait, giving one never does."""

    def try_acquire(self) -> bool:
        """Take a place if one is free now: True, or False at once."""
        ...

    def acquire_for(self, seconds: float) -> bool:
        """Block until a place is free and take it (at most `seconds`, or until a handled
        signal comes): True when it took one."""
        ...

    def release(self) -> None:
        """Give a place back (wakes one waiter)."""
        ...
