"""Tight loops for a loop whose body is one hot step (issue 8: instrumentation overhead).

A worker whose loop is a single 64-byte write, read, send, receive or increment would
otherwise pay a Python step dispatch, a pause check and a shared-memory counter store per
operation, which costs more than the system call itself. A *burst* runs up to `limit`
operations as the same bare loop a person would write, keeping the count in the loop index
or a local, and stores it in the telemetry row once at the end.

Every burst flushes before anything that can wait: a full or empty channel ends the burst
(non-blocking calls), the count is stored, and only then does the worker wait (in poll()
or the blocking call, shown as blocked on the channel). So pause points (and the
runtime's quiesce before a final reading) always see exact counts. The one thing a burst
changes: a worker killed by an uncatchable or unhandled signal (SIGPIPE excepted, see
pipe_write) in the middle of a burst takes up to BURST - 1 uncounted operations with it
(instead of at most one).

Each factory returns `burst(limit) -> passes` (0 when it only waited) or None where the
step has no tight form (blocking reads on a channel the worker also writes,
acknowledgements, partial writes of big blocks, locked increments go through the ordinary
path op by op).
"""

from __future__ import annotations

import os
import select
import signal
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import posix_ipc

from ipcviz.channels import message
from ipcviz.scenario import schema
from ipcviz.telemetry import table as T

from ipcviz.worker.boundary import NOTHING, Next, hold
from ipcviz.worker.row import PIPE_BIT

if TYPE_CHECKING:
    import numpy as np

    from ipcviz.worker.row import WorkerRow

__all__ = ["BURST", "PIPE_BIT", "Burst", "mqueue_receive", "mqueue_send", "pipe_read",
           "pipe_write", "run_bursts", "unlocked_increments"]

#: operations between two flushes and pause/exit checks: at about 1 microsecond each,
#: a burst ends every few tens of microseconds, far below anything a person can see
BURST = 64

Burst = Callable[[int], int]
#: what a burst's wait returns (a message received, or nothing)
R = TypeVar("R")


_PIPE = {signal.SIGPIPE}


def pipe_write(row: WorkerRow, args: schema.WriteArgs, one: Callable[[], None]
               ) -> Burst | None:
    """Writes of at most PIPE_BUF bytes are atomic: each one moves all its bytes or none.

    A write to a pipe nobody reads raises SIGPIPE, whose default action ends the process at
    once, which would take the burst's count with it. So where SIGPIPE has its default
    action, the burst holds it blocked (two system calls per burst): the write fails with
    EPIPE instead, the count is stored, and unblocking then lets the kernel's SIGPIPE end
    the worker as it would have. The sampler does not show this block (T.HIDDEN_BLOCK)."""
    if args.from_read is not None:  # its bytes change with each read: the ordinary path
        return None
    endpoint = row.ends.pipe[args.to]
    payload = row.payload(args)
    size = len(payload)
    if endpoint.write_fd is None or args.every or size > select.PIPE_BUF:
        return None
    fd, cells, write = endpoint.write_fd, row.cells, os.write
    cell = row.counter(args.to, T.BYTES_WRITTEN)
    last_written, name, raw = row.last_written, args.to, bytes(payload)
    guard = signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL
    if guard:
        row.guard_sigpipe()
    mask = signal.pthread_sigmask
    wait_full = _waiter(row, T.OP_WRITE, args.to, endpoint.wait_writable)

    def burst(limit: int) -> int:
        done = 0
        full = False
        old = mask(signal.SIG_BLOCK, _PIPE) if guard else None
        try:
            for done in range(limit):
                write(fd, payload)
            done = limit
        except BlockingIOError:
            full = True  # `done` writes went through; the rest waits for room
        except BrokenPipeError:
            pass  # the ordinary path counts EPIPE (SIGPIPE ignored or handled)
        finally:
            if done:
                cells[cell] += done * size
                last_written[name] = raw
            if old is not None and signal.SIGPIPE not in old:
                mask(signal.SIG_SETMASK, old)  # a pending SIGPIPE ends the worker here
        if full:
            wait_full()
        elif done < limit:
            one()
            done += 1
        return done
    return burst


def _waiter(row: WorkerRow, op: int, channel: str, wait: Callable[..., R]
            ) -> Callable[..., R]:
    """`wait` (poll() on a full or empty pipe, or a blocking queue call) shown as blocked on
    the channel, with handlers allowed to end the worker during it; returns its result.
    A burst calls it only once its count is stored."""
    cells, base, index, row_wait = row.cells, row.base, row.index(channel), row.wait

    def waiter(*args: object) -> R:
        cells[base + T.OP_CHANNEL] = index
        cells[base + T.OP] = op
        result = row_wait(wait, *args)
        cells[base + T.OP] = T.OP_RUNNING
        return result
    return waiter


def pipe_read(row: WorkerRow, args: schema.ReadArgs, one: Callable[[], None],
              read_fd: int) -> Burst:
    cells, read, nbytes = row.cells, os.read, args.bytes
    cell = row.counter(args.from_, T.BYTES_READ)
    seen_cell = row.counter(args.from_, T.LAST_READ)
    wait_empty = _waiter(row, T.OP_READ, args.from_,
                         row.ends.pipe[args.from_].wait_readable)
    block = args.block  # `block: false`: an empty pipe is a pass that read nothing

    def burst(limit: int) -> int:
        done = total = 0
        empty = False
        last = b""
        try:
            for done in range(limit):
                data = read(read_fd, nbytes)
                if not data:
                    break  # end of file: the ordinary path says so and ends the worker
                total += len(data)
                last = data
            else:
                done = limit
        except BlockingIOError:
            empty = True
        if total:
            cells[cell] += total
            T.note_read(cells, seen_cell, last)
        if empty and block:
            wait_empty()
        elif done < limit:
            one()
            done += 1
        return done
    return burst


_SEQ = struct.Struct("<I")


def mqueue_send(row: WorkerRow, args: schema.SendArgs) -> Burst | None:
    """Blocking sends to a POSIX queue without acknowledgements."""
    endpoint = row.ends.kernel_queue[args.to]
    if args.ack is not None or not args.block:
        return None
    payload = bytes(row.payload(args))
    packed = bytearray(message.pack(row.ctx.row, 0, payload))
    cells, priority, name = row.cells, args.priority, args.to
    sent_cell = row.counter(name, T.MESSAGES_SENT)
    bytes_cell = row.counter(name, T.BYTES_WRITTEN)
    seqs, pack_seq, send, size = row.seq, _SEQ.pack_into, endpoint.mq.send, len(payload)
    busy = posix_ipc.BusyError
    send_waiting = _waiter(row, T.OP_SEND, name, endpoint.send_blocking)

    def burst(limit: int) -> int:
        seq = seqs.get(name, 0)
        done = 0
        try:
            for done in range(limit):
                pack_seq(packed, 4, (seq + done + 1) & 0xFFFFFFFF)
                send(packed, 0, priority)
            done = limit
        except busy:
            pass
        if done:
            seqs[name] = seq + done
            cells[sent_cell] += done
            cells[bytes_cell] += done * size
        if done < limit:  # full: wait in the kernel (shown as blocked), then count it
            send_waiting(packed, priority)  # (packed already holds this message's number)
            seqs[name] = seq + done + 1
            cells[sent_cell] += 1
            cells[bytes_cell] += size
            done += 1
        return done
    return burst


def mqueue_receive(row: WorkerRow, args: schema.ReceiveArgs, retried: frozenset[str]
                   ) -> Burst | None:
    """Receives from a POSIX queue that need no per-message bookkeeping: nobody resends on
    this queue (so no duplicates) and this worker does not also send on it (so no
    self-reads)."""
    name = args.from_
    endpoint = row.ends.kernel_queue[name]
    own = row.ctx.own_roles(name)
    if (args.ack is not None or not args.block or args.timeout is not None
            or name in retried or own is None or "send" in own):
        return None
    if any(step.kind == "send" and step.args.to == name and step.args.priority
           for definition in row.ctx.definitions.values()
           for step in schema.all_steps(definition.steps)):
        return None  # a priority message taken first is an event: the ordinary path
    cells, receive, busy = row.cells, endpoint.mq.receive, posix_ipc.BusyError
    got_cell = row.counter(name, T.MESSAGES_RECEIVED)
    bytes_cell = row.counter(name, T.BYTES_READ)
    header = message.HEADER_SIZE
    receive_waiting = _waiter(row, T.OP_RECEIVE, name, endpoint.receive_blocking)

    def burst(limit: int) -> int:
        done = total = 0
        try:
            for done in range(limit):
                total += len(receive(0)[0])
            done = limit
        except busy:
            pass
        if done < limit:  # empty: count what came, wait in the kernel, count that one
            if done:
                cells[got_cell] += done
                cells[bytes_cell] += total - done * header
            total = len(receive_waiting())
            cells[got_cell] += 1
            cells[bytes_cell] += total - header
            return done + 1
        cells[got_cell] += done
        cells[bytes_cell] += total - done * header
        return done
    return burst


def run_bursts(row: WorkerRow, burst: Burst, times: int | None,
               loops_cell: int | None = None, next_op: Next = NOTHING) -> None:
    """Run a one-step loop `times` passes (None: forever) in bursts, passing the step
    boundary and checking for an exit between bursts; `loops_cell` (the top-level loop)
    gets the passes made; `next_op` describes the step to a held worker."""
    cells, signals, pause_cell = row.cells, row.signals, row.pause_cell
    freeze_cell = row.freeze_cell
    passes = 0
    while times is None or passes < times:
        limit = BURST if times is None else min(BURST, times - passes)
        if cells[freeze_cell]:  # the sampler reads a frame: every burst is counted
            row.freeze()
        if cells[pause_cell]:
            hold(row, next_op)
            if cells[pause_cell]:  # still held: one operation per pass of the boundary
                limit = 1
        passes += burst(limit)
        if loops_cell is not None:
            cells[loops_cell] = passes
        if signals.exit_code is not None:
            signals.check_exit()


def unlocked_increments(flat: np.ndarray, index: int, n: int) -> None:
    """n plain read-modify-writes of one cell: the race is in the gap between the two."""
    for _ in range(n):
        value = flat[index]  # read ...
        flat[index] = value + 1  # ... modify, write: another worker may have written between
