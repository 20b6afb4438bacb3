"""`send` and `receive`: message queues (POSIX `mqueue`, System V `sysv_queue` with its
message types, and the `queue` built from a spool file and semaphores), with optional
acknowledgements, retries and duplicates.

Each message carries its sender's row and a sequence number (channels/message.py),
which is how self-reads and duplicates are counted exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ipcviz.channels import message
from ipcviz.channels.endpoints import MessageEnd
from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import describes, handles

#: a receiver remembers this many sequence numbers per sender to notice duplicates
SEEN_WINDOW = 4096


def send_message(row: WorkerRow, name: str, packed: bytes, priority: int, block: bool,
                 size: int, type_: int | None = None) -> bool:
    """Put one message in the queue and count it (`size`: its payload's bytes); False only
    when `block` is off and it is full. In a queue of capacity 0 the sender then waits
    for its receiver, counted as sent meanwhile: the frame shows it as a waiting sender.

    An error from the kernel (the spool's file system is full, ...) ends the worker as a
    StepFailed: the channel took nothing, so nothing is counted."""
    endpoint = _typed(row, name, type_)
    try:
        if block and endpoint.waits_in_kernel:
            # a message is atomic: either in the queue or not, so a blocking send cannot
            # lose a count; "blocked" is what the kernel says while we sit in it (the
            # message enters the queue as the wait ends, a moment before it is counted:
            # MqueueChannel.WAIT_CHANGES_IT)
            with row.blocked(T.OP_SEND, name):
                row.wait(endpoint.send_blocking, packed, priority)
            count_sent(row, name, size)
            return True
        while not endpoint.send_now(packed, priority):
            if not block:
                return False
            row.set_op(T.OP_SEND, row.index(name))
            row.wait(endpoint.wait_sendable, 200)
    except OSError as exc:
        raise row.failed(exc, T.OP_SEND, name) from None
    count_sent(row, name, size)
    if endpoint.rendezvous:  # a queue of capacity 0: wait for the receiver
        row.set_op(T.OP_SEND, row.index(name))
        while not row.wait(endpoint.wait_ack, 0.2):
            pass
    row.cells[row.base + T.OP] = T.OP_RUNNING
    return True


def count_sent(row: WorkerRow, name: str, size: int) -> None:
    row.cells[row.counter(name, T.MESSAGES_SENT)] += 1
    row.cells[row.counter(name, T.BYTES_WRITTEN)] += size


@handles("send")
def send(row: WorkerRow, args: schema.SendArgs) -> None:
    payload = row.payload(args)
    seq = row.seq[args.to] = row.seq.get(args.to, 0) + 1
    packed = message.pack(row.ctx.row, seq, payload)
    if not send_message(row, args.to, packed, args.priority, args.block, len(payload),
                        args.type):
        row.cells[row.counter(args.to, T.REFUSED)] += 1
        row.emit(EV.SEND_FULL, row.index(args.to))
        return
    if args.ack is None:
        return
    for _ in range(args.retries):  # no acknowledgement in time: send it again
        if _await_ack(row, args.ack, seq, args.ack_timeout):
            return
        send_message(row, args.to, packed, args.priority, True, len(payload), args.type)
        row.emit(EV.RETRY, row.index(args.to), number=seq)
    _await_ack(row, args.ack, seq, args.ack_timeout)


def _await_ack(row: WorkerRow, name: str, seq: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    endpoint = row.ends.queue[name]
    cells = row.cells
    while True:
        got = endpoint.receive_now()
        if got is not None:
            _, acked, payload = message.unpack(got[0])
            cells[row.counter(name, T.MESSAGES_RECEIVED)] += 1
            cells[row.counter(name, T.BYTES_READ)] += len(payload)
            if acked == seq:
                return True
            continue  # a late acknowledgement of an earlier message
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        row.set_op(T.OP_RECEIVE, row.index(name))
        row.wait(endpoint.wait_receivable, max(1, int(left * 1000)))


@handles("receive")
def receive(row: WorkerRow, args: schema.ReceiveArgs) -> None:
    name = args.from_
    endpoint = _typed(row, name, args.type)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    got = endpoint.receive_now()
    while got is None:
        if not args.block:  # EAGAIN: counted, so a polling receiver's misses are seen
            row.cells[row.counter(name, T.EMPTY_RECEIVES)] += 1
            return
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        row.set_op(T.OP_RECEIVE, row.index(name))
        row.wait(endpoint.wait_receivable, 200 if left is None else
                 max(1, min(200, int(left * 1000))))
        got = endpoint.receive_now()
    cells = row.cells
    cells[row.base + T.OP] = T.OP_RUNNING
    sender, seq, payload = message.unpack(got[0])
    if got[1] > 0:  # a priority message (mqueue): the kernel gave it ahead of lower ones
        row.emit(EV.PRIORITY, row.index(name), number=got[1], count=endpoint.depth())
    cells[row.counter(name, T.MESSAGES_RECEIVED)] += 1
    cells[row.counter(name, T.BYTES_READ)] += len(payload)
    tally: Callable[[], int | None] | None = getattr(endpoint, "tally_cell", None)
    if tally is not None:  # a kind that counts more per message (a System V type)
        extra = tally()
        if extra is not None:
            cells[row.counter(name, extra)] += 1
    if sender == row.ctx.row:
        cells[row.base + T.SELF_READS] += 1
    if _already_seen(row, name, sender, seq):
        cells[row.base + T.DUPLICATES] += 1
        row.emit(EV.DUPLICATE, row.index(name), number=seq)
    if args.ack is not None:
        send_message(row, args.ack, message.pack(row.ctx.row, seq, b""), 0, True, 0)


def _typed(row: WorkerRow, name: str, type_: int | None) -> MessageEnd:
    """The end of queue `name` for messages of one type (`type:`, on a kind with message
    types: the loader allows it nowhere else), or its end for every message."""
    return row.ends.queue[name] if type_ is None else row.ends.typed_queue[name].of_type(type_)


def _already_seen(row: WorkerRow, name: str, sender: int, seq: int) -> bool:
    """Has this (sender, sequence) arrived before? Remembers a window per sender."""
    seen = row.seen
    top, recent = seen.get((name, sender), (0, set()))
    if seq in recent:
        return True
    recent.add(seq)
    top = max(top, seq)
    if len(recent) > 2 * SEEN_WINDOW:
        recent = {s for s in recent if s > top - SEEN_WINDOW}
    seen[(name, sender)] = (top, recent)
    return False


@describes("send")
def describe_send(row: WorkerRow, args: schema.SendArgs) -> Next:
    return (T.OP_SEND, row.index(args.to), len(row.payload(args)))


@describes("receive")
def describe_receive(row: WorkerRow, args: schema.ReceiveArgs) -> Next:
    return (T.OP_RECEIVE, row.index(args.from_), 0)
