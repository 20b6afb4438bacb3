"""The telemetry table: one int64 row per worker in shared memory, one writer per cell.

The runtime maps it (MAP_SHARED, anonymous) before forking workers, so every worker
sees the same pages without a name in /dev/shm that could leak. Each worker writes
only its own row (counters are monotonic, so no locks are needed); the runtime writes
only the control cells (pause, lock switch) and reads everything to build Snapshots.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ipcviz.scenario.kinds import Op, operations
from ipcviz.scenario.plan import PARENT_TARGET
from ipcviz.signals import NSIG

# Header cells of a row.
PID = 0
OP = 1  # what the worker is doing now (OP_* below)
OP_CHANNEL = 2  # channel index the op is on, or -1
STEP = 3  # index of the current step
LOOPS = 4  # completed passes over the steps
SELF_READS = 5
EPIPE = 6
EVENT_SEQ = 7  # events written so far (ring position = seq % EVENT_SLOTS)
#: written by the runtime: nonzero = stop at the next step boundary (boundary.py); bits
#: PAUSE_WORKER (this worker paused: `p`, a final reading), PAUSE_RUN (the run-wide hold:
#: go on only with a grant, see CTRL_GRANTS), PAUSE_PACE (slow motion, see CTRL_SPEED)
CTRL_PAUSE = 8
CTRL_LOCK_OFF = 9  # written by the runtime: 1 = ignore `lock:` on increments
DUPLICATES = 10
OP_ARG = 11  # extra detail for the op (e.g. the signal waited for)
START = 12  # the kernel start time of PID (identity check); written by whoever forked it
SPAWN_DEF = 13  # spawned rows: 1 + index of the worker definition the kid runs
PARENT_ROW = 14  # spawned rows: the spawner's row
EXIT_STATUS = 15  # spawned rows: 1 + raw wait status, written by the spawner when it reaps
#: kernel-style mask of signals ipcviz itself may block for an instant (SIGPIPE around a
#: burst of pipe writes) that the scenario has not blocked: not shown as "blocked"
HIDDEN_BLOCK = 16
#: a step met an error that ended the worker (ENOSPC, fork's EAGAIN, ...): its errno, the
#: OP_* it was doing and the channel index (-1: none); 0 in FAILURE while nothing failed
FAILURE = 17
FAILURE_OP = 18
FAILURE_CHANNEL = 19
#: written by the runtime: 1 = the SIGCONT about to arrive is the runtime's own (it wakes a
#: stopped worker so a final reading is exact), not one for the worker to count or act on
CTRL_QUIET_CONT = 20
#: written by the runtime (runtime/scheduler.py): operations granted so far to a worker
#: held by PAUSE_RUN; each grant lets exactly one operation through the boundary
CTRL_GRANTS = 21
#: written by the runtime: the slow-motion divisor 1/f (1, 2, 4, ... 64; 0 means 1)
CTRL_SPEED = 22
#: written by the worker: grants used so far (TAKEN == CTRL_GRANTS: none outstanding)
TAKEN = 23
#: written by the worker: 1 while it waits at a boundary (for a grant, or a resume)
HELD = 24
#: written by the worker when it stops at a boundary: what it does next (an OP_CODE,
#: index), on which channel (-1: none) and a detail (bytes, array index, signal, ms)
NEXT_OP = 25
NEXT_CHANNEL = 26
NEXT_ARG = 27
#: One moment per frame (runtime/moment.py). Written by the runtime: nonzero = the
#: sampler is reading a frame; stop at the next quiet point (a step boundary, a burst's
#: end: everything done is counted) until it is 0 again
CTRL_FREEZE = 28
#: written by the worker: the CTRL_FREEZE value it has stopped for
FROZEN = 29
#: written by the worker: waits begun plus waits ended (odd while it waits in a blocking
#: call with everything counted: poll, sleep, a signal, a semaphore); a reading during
#: which this did not move saw none of that worker's work half counted
WAITS = 30
#: written by the runtime: 1 = close the pipe ends this worker keeps (`keeps:`, the
#: `close` action); the worker looks at it while it waits in a read and between steps
CTRL_CLOSE_KEPT = 31
#: written by the runtime (runtime/scheduler.py): the run clock a worker's `sleep` is
#: measured on, whole in one cell (telemetry/clock_cell.py)
CTRL_CLOCK = 32
#: written by the worker: its descriptor generation, odd while it changes its descriptor
#: table in a way that may add or remove an end of one of the run's pipes, even once the
#: change is made (`changing_descriptors`); the sampler keeps a worker's pipe ends read
#: from /proc while this stays the same (runtime/pipe_holders.py)
FD_GENERATION = 33
HEADER = 34

# Bits of CTRL_PAUSE.
PAUSE_WORKER, PAUSE_RUN, PAUSE_PACE = 1, 2, 4
#: steps per second each worker may take at speed 1 when paced; at speed f: PACE_STEPS * f
#: (so 1/64 is one step a second)
PACE_STEPS = 64

SIG_RECEIVED = HEADER
SIG_SENT = SIG_RECEIVED + NSIG

# Per-channel counters, CHANNEL_COLS cells per channel.
BYTES_WRITTEN, BYTES_READ, MESSAGES_SENT, MESSAGES_RECEIVED, INCREMENTS = range(5)
#: on a socket: write operations that sent something (a datagram each, on a datagram
#: socket) and reads that returned something (message boundaries: reads < writes on a
#: stream means writes were merged)
WRITES, READS = 5, 6
#: on a socket or rpc channel: connections closed unread and datagrams dropped because
#: they came from outside the run (on the serving worker's row; a cell no kind shares)
PEERS_REFUSED = 9
CHANNEL_COLS = 10
ACQUIRED, RELEASED = BYTES_WRITTEN, BYTES_READ  # on a semaphore: held = acquired - released
#: on a message queue: non-blocking sends the queue refused because it was full (the
#: INCREMENTS cell, which only shared arrays use)
REFUSED = INCREMENTS
#: on a message queue: non-blocking receives (`block: false`) that found it empty
#: (EAGAIN), on the receiver's row (the WRITES cell, which only sockets use)
EMPTY_RECEIVES = WRITES
#: on a byte stream (pipe, FIFO, socket): the first LAST_READ_BYTES bytes of the worker's
#: last read (two cells from MESSAGES_SENT) and its length (the INCREMENTS cell), so the
#: panel can show what was really read; streams count only bytes in the other cells
LAST_READ, LAST_READ_LEN, LAST_READ_BYTES = MESSAGES_SENT, INCREMENTS, 16



def note_read(cells: memoryview, cell: int, data: bytes) -> None:
    """Keep what a read returned where the sampler finds it (`cell`: the channel's
    LAST_READ cell in the reader's row): its first LAST_READ_BYTES bytes and its length."""
    head = data[:LAST_READ_BYTES].ljust(LAST_READ_BYTES, b"\0")
    cells[cell] = int.from_bytes(head[:8], "little", signed=True)
    cells[cell + 1] = int.from_bytes(head[8:], "little", signed=True)
    cells[cell + LAST_READ_LEN - LAST_READ] = len(data)


def last_read(first: int, second: int, length: int) -> bytes:
    """The bytes `note_read` kept (at most LAST_READ_BYTES of a read of `length`)."""
    head = first.to_bytes(8, "little", signed=True) + second.to_bytes(8, "little", signed=True)
    return head[:min(length, LAST_READ_BYTES)]

#: on a pipe or FIFO, the reader's row: `interruptible` reads that returned EINTR, and
#: deliveries during reads the kernel restarted (SA_RESTART) (the cells only sockets use)
INTERRUPTED_READS, RESTARTED_READS = WRITES, READS
#: OP_ARG of a worker inside an interruptible read: a handler may run there and the process
#: sleep again (SA_RESTART) before the worker counts the delivery (when the read returns),
#: so its counts prove no merge meanwhile (runtime/signal_merges.py)
COUNTED_WHEN_READ_RETURNS = -2

#: on a page (channels/page.py), written at each access by the worker that made it: the
#: virtual address it used, and the physical frame behind it at its first and at its
#: latest access (page.FRAME_* when the kernel did not tell a frame number)
PAGE_ADDRESS, FIRST_FRAME, LAST_FRAME = WRITES, READS, 7
#: on a window (channels/window.py), written by the reader after each read: the address
#: of its mapping (PAGE_ADDRESS), the window's pages it has touched, its mapping's
#: resident pages (smaps Rss; -1: no such mapping found), the page faults its reads
#: took (minor and major) and the major ones among them
PAGES_TOUCHED, RSS_PAGES, READ_FAULTS, READ_MAJOR_FAULTS = MESSAGES_SENT, 3, INCREMENTS, 8

#: on a file: whole records appended / taken, and reads that found half a record
RECORDS_WRITTEN, RECORDS_READ, TORN_READS = MESSAGES_SENT, MESSAGES_RECEIVED, INCREMENTS

#: the counters a channel kind may add to its family's by name (kinds.ChannelKind.sums)
COUNTER_CELLS = {"writes": WRITES, "reads": READS, "records_written": RECORDS_WRITTEN,
                 "records_read": RECORDS_READ, "torn_reads": TORN_READS,
                 "peers_refused": PEERS_REFUSED}

#: on an rpc channel, a client's row (bytes in the first two cells, as on a socket):
#: calls begun, calls answered, waits that timed out, calls sent again, calls given up,
#: and the answered calls' latency (sum and largest, in microseconds); in flight =
#: CALLS - ANSWERED - GAVE_UP
CALLS, ANSWERED, TIMEOUTS, RETRIES, GAVE_UP, LATENCY_SUM_US, LATENCY_MAX_US = range(2, 9)
#: on an rpc channel, the server's row: calls executed, calls executed although their id
#: had been executed before (a retry of work already done), requests refused as invalid
EXECUTED, EXECUTED_TWICE, RPC_ERRORS = 2, 3, 4

EVENT_SLOTS = 64
EVENT_COLS = 6  # time_ns, code, channel index, three values (ring_events.VALUES)

# What a worker is doing (OP cell), and what a held worker does next (NEXT_OP cell): one
# numbering of the table's own states followed by every step kind's operations, taken
# from the table of kinds (ipcviz.scenario.kinds: a step kind's `ops`), so a new kind
# needs no code here. An increment runs as OP "increment"; held before it, a worker
# says it will "load" and then "store".
STATES = ("start", "run", "paused", "done")
OP_STARTING, OP_RUNNING, OP_PAUSED, OP_DONE = range(len(STATES))
OPS: tuple[Op, ...] = operations()
OP_NAMES: dict[int, str] = dict(enumerate(STATES + tuple(op.name for op in OPS)))
OP_CODE: dict[str, int] = {name: code for code, name in OP_NAMES.items()}
if len(OP_CODE) != len(OP_NAMES):  # two kinds naming one operation the same
    raise RuntimeError("the table of kinds names an operation twice")
#: the operation of each code (None for the table's own states)
OP_OF: dict[int, Op] = {OP_CODE[op.name]: op for op in OPS}
#: Ops that, when the kernel says the process sleeps, mean it is blocked on something.
BLOCKING_OPS = frozenset(code for code, op in OP_OF.items() if op.blocks)
(OP_WRITE, OP_READ, OP_SEND, OP_RECEIVE, OP_ACQUIRE, OP_SLEEP, OP_WAIT_SIGNAL,
 OP_INCREMENT, OP_ECHO, OP_SPAWN, OP_CALL, OP_SERVE) = (
    OP_CODE[name] for name in ("write", "read", "send", "receive", "acquire", "sleep",
                               "wait_signal", "increment", "echo", "spawn", "call", "serve"))

# The event ring's entries, their codes and values: telemetry/ring_events.py.

@contextmanager
def changing_descriptors(cells: memoryview, row_base: int) -> Iterator[None]:
    """Around a change of this process's descriptor table that may add or remove an end
    of one of the run's pipes (a close, a dup, an open of /proc/self/fd/N): the row's
    FD_GENERATION is made odd before the change and even again after it, whatever the
    change raised. Not nested. A row left odd by a life that died inside a change stays
    odd here and ends even (the sampler never trusts an odd generation)."""
    cell = row_base + FD_GENERATION
    cells[cell] += 2 if cells[cell] & 1 else 1
    try:
        yield
    finally:
        cells[cell] += 1


#: Rows reserved for the children of each worker that has `spawn` steps.
SPAWN_ROWS = 64


@dataclass(frozen=True)
class Layout:
    """Where each cell of a row is, for a scenario with `channels` channels."""

    channels: int
    rows: int
    #: cells per row counting the signals this row sent to each (target row, signal) its
    #: `signal` steps can reach (the plan's `signal_slots`); one writer per cell, so exact
    sent_slots: int = 0

    @property
    def channel_base(self) -> int:
        return SIG_SENT + NSIG

    @property
    def sent_to_base(self) -> int:
        return self.channel_base + CHANNEL_COLS * self.channels

    @property
    def event_base(self) -> int:
        return self.sent_to_base + self.sent_slots

    @property
    def width(self) -> int:
        return self.event_base + EVENT_SLOTS * EVENT_COLS

    def channel_cell(self, channel: int, counter: int) -> int:
        return self.channel_base + CHANNEL_COLS * channel + counter


#: the target "row" of `signal: {to: parent}` (slots: the plan's `signal_slots`)
PARENT_ROW_TARGET = PARENT_TARGET


class Table:
    """The shared table; `array` is a numpy view, `cells` a flat memoryview for hot paths."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self._map = mmap.mmap(-1, max(8, layout.rows * layout.width * 8),
                              flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self.array = np.frombuffer(self._map, dtype=np.int64).reshape(layout.rows, layout.width)
        self.cells = memoryview(self._map).cast("q")

    def row_base(self, row: int) -> int:
        return row * self.layout.width

    def events_since(self, row: int, seen: int
                     ) -> tuple[list[tuple[int, int, int, tuple[int, int, int]]], int, int]:
        """Events of `row` after sequence `seen`: (events, new seq, how many were
        overwritten); each event (time_ns, code, channel index, its three values)."""
        seq = int(self.array[row, EVENT_SEQ])
        if seq <= seen:
            return [], seq, 0
        first = max(seen, seq - EVENT_SLOTS)
        dropped = first - seen
        base = self.layout.event_base
        out = []
        for n in range(first, seq):
            slot = base + (n % EVENT_SLOTS) * EVENT_COLS
            t, code, channel, x, y, z = self.array[row, slot:slot + EVENT_COLS].tolist()
            out.append((t, code, channel, (x, y, z)))
        return out, seq, dropped

    def close(self) -> None:
        del self.array
        self.cells.release()
        try:
            self._map.close()
        except BufferError:
            pass
