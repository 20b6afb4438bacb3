"""A worker's own row of the telemetry table, and what every step does with it.

The row object is what step handlers and bursts work through: counter cells (worked
out once per channel), the payload cache, the event ring, the "blocked on" state, waits
that a handler may end, and the record of a failure. Hot paths take the cells and
counter positions into locals once and store with plain memoryview writes.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ipcviz.scenario.schema import all_steps
from ipcviz.telemetry import clock_cell
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode, pack
from ipcviz.worker.signals import SignalCounter

if TYPE_CHECKING:
    from ipcviz.scenario import schema
    from ipcviz.worker.context import WorkerContext

#: errors a step may meet at run time that end the worker cleanly, with the reason
#: recorded (the file system is full, a quota or file size limit was reached)
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: exit status of a worker a StepFailed ended (as a C program would after perror())
FAILED_STATUS = 1

#: what a waited-for call returns (`WorkerRow.wait`)
R = TypeVar("R")

#: longest piece of a `sleep` in slow motion before the speed is looked at again
SLEEP_SLICE = 0.1
#: a sleeper that finds the run clock standing still looks again this often ...
STILL_POLL = 0.02
#: ... after this many quicker looks (the clock starts a moment after the workers do)
STILL_FAST, STILL_FAST_POLL = 20, 0.0005
#: a worker stopped for the sampler's reading naps this long between two looks: it must
#: leave its core to the workers the reading still waits for (a reading takes tens of
#: microseconds once they all stand still)
FREEZE_NAP = 0.0001

PIPE_BIT = 1 << (signal.SIGPIPE - 1)  # as the kernel's masks count


class StepFailed(Exception):
    """A step met an error from the kernel that ends the worker: `error` (an errno value)
    while doing `op` (T.OP_*) on channel index `channel` (-1: none). Raised only where
    nothing is half counted; the interpreter records it and the worker exits."""

    def __init__(self, error: int, op: int, channel: int = -1):
        super().__init__(error, op, channel)
        self.error = error
        self.op = op
        self.channel = channel


class Runner(Protocol):
    """What the control-flow steps need from the interpreter."""

    def repeat(self, args: schema.RepeatArgs) -> None: ...

    def spawn(self, kid: str) -> None: ...


class WorkerRow:
    """One worker's row and its per-run caches (one per worker process)."""

    def __init__(self, ctx: WorkerContext):
        self.ctx = ctx
        #: its channel ends, typed by shape (`ends.stream[name]`: worker/ends.py)
        self.ends = ctx.ends
        self.cells = ctx.table.cells
        self.layout = ctx.table.layout
        self.base = ctx.table.row_base(ctx.row)
        #: the control cell every step boundary looks at (see boundary.py)
        self.pause_cell = self.base + T.CTRL_PAUSE
        #: the sampler's request to stop at the next quiet point (see `freeze`)
        self.freeze_cell = self.base + T.CTRL_FREEZE
        self._waits_cell = self.base + T.WAITS
        if self.cells[self._waits_cell] & 1:  # an earlier life of the row ended in a wait
            self.cells[self._waits_cell] += 1
        #: grants of the run-wide hold used so far (a restarted worker's row keeps counting)
        self.taken = self.cells[self.base + T.TAKEN]
        self.cells[self.base + T.HELD] = 0
        #: when the worker last passed a boundary (slow motion paces from there)
        self.last_step = 0.0
        self.signals = SignalCounter(self.cells, self.base, dict(ctx.definition.handlers),
                                     self.emit)
        #: the interpreter, for `repeat` and `spawn`
        self.runner: Runner | None = None
        #: per pipe/FIFO: the bytes of the last complete write (to notice self-reads)
        self.last_written: dict[str, bytes] = {}
        #: per stream this worker's `write: {from_read: ...}` steps copy from: the bytes
        #: of its last read or echo there (reads of these take the ordinary path)
        self.last_read: dict[str, bytes] = {}
        self.keep_reads: frozenset[str] = frozenset(
            st.args.from_read for st in all_steps(ctx.definition.steps)
            if st.kind == "write" and st.args.from_read is not None)
        #: pipe -> the end ("read" or "write") this worker keeps open unused (`keeps:`)
        #: until the runtime asks it to close them (CTRL_CLOSE_KEPT)
        self.kept: dict[str, str] = dict(ctx.definition.keeps)
        self._close_cell = self.base + T.CTRL_CLOSE_KEPT
        #: per queue: sequence numbers given to messages sent so far
        self.seq: dict[str, int] = {}
        #: per (queue, sender row): highest sequence number and the recent ones received
        self.seen: dict[tuple[str, int], tuple[int, set[int]]] = {}
        self._sigpipe_guard = False
        self._emitting = False
        self._pending: list[tuple[EventCode, int, int, dict[str, int]]] = []
        self._payloads: dict[int, memoryview] = {}
        self._counters: dict[tuple[str, int], int] = {}
        #: (target row, signal) -> its "sent to" cell in this worker's row
        slots = ctx.plan.signal_slots.get(ctx.definition_name, {})
        self.sent_to_cells = {key: self.base + self.layout.sent_to_base + slot
                              for key, slot in slots.items()}

    # ------------------------------------------------------------ telemetry

    def emit(self, code: EventCode, channel: int = -1, t_ns: int = 0, **values: int
             ) -> None:
        """Append an event to this worker's ring: its code, the channel's index (-1: none)
        and its values by name (ring_events.VALUES); signal handlers may call this too."""
        if self._emitting:
            self._pending.append((code, channel, t_ns, values))
            return
        self._emitting = True
        try:
            cells, base = self.cells, self.base
            seq = cells[base + T.EVENT_SEQ]
            slot = base + self.layout.event_base + (seq % T.EVENT_SLOTS) * T.EVENT_COLS
            cells[slot] = t_ns or time.monotonic_ns()
            cells[slot + 1] = code
            cells[slot + 2] = channel
            cells[slot + 3], cells[slot + 4], cells[slot + 5] = pack(code, values)
            cells[base + T.EVENT_SEQ] = seq + 1
        finally:
            self._emitting = False
        if self._pending:
            pending, self._pending = self._pending, []
            for code, channel, t_ns, values in pending:
                self.emit(code, channel, t_ns, **values)

    def index(self, channel: str) -> int:
        """The channel's index in the table (events and the OP_CHANNEL cell name it so)."""
        return self.ctx.channel_index[channel]

    def counter(self, channel: str, which: int) -> int:
        """Position in `cells` of this worker's counter `which` (T.BYTES_WRITTEN, ...) on
        `channel`; worked out once."""
        key = (channel, which)
        cell = self._counters.get(key)
        if cell is None:
            cell = self._counters[key] = self.base + self.layout.channel_cell(
                self.ctx.channel_index[channel], which)
        return cell

    def payload(self, args: Any) -> memoryview:
        """The bytes a write or send step moves, made once per step."""
        key = id(args)
        view = self._payloads.get(key)
        if view is None:
            view = self._payloads[key] = memoryview(args.payload_bytes())
        return view

    # ------------------------------------------------------------ state

    def set_op(self, op: int, channel: int = -1, arg: int = 0) -> None:
        self.cells[self.base + T.OP] = op
        self.cells[self.base + T.OP_CHANNEL] = channel
        self.cells[self.base + T.OP_ARG] = arg

    def blocked(self, op: int, channel: str | None = None, arg: int = 0) -> WorkerRow:
        """`with row.blocked(T.OP_READ, name): row.wait(...)`: shown as doing `op` on the
        channel while the block runs, back to running after it."""
        self.set_op(op, -1 if channel is None else self.ctx.channel_index[channel], arg)
        return self

    def __enter__(self) -> WorkerRow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cells[self.base + T.OP] = T.OP_RUNNING

    def wait(self, fn: Callable[..., R], *args: object) -> R:
        """Call a blocking function with handlers allowed to end the worker at once;
        returns what it returned. Call it only with nothing half counted: the WAITS cell
        is odd meanwhile, which tells the sampler this worker's counts are whole (a wait
        that changes a kernel object as it ends, a semaphore taken, shows in the
        channel's relations, and the sampler reads again)."""
        signals, cells, waits = self.signals, self.cells, self._waits_cell
        signals.waiting = True
        cells[waits] += 1
        try:
            result = fn(*args)
        finally:
            cells[waits] += 1
            signals.waiting = False
        signals.check_exit()
        return result

    def freeze(self) -> None:
        """Stand still while the sampler reads one frame (CTRL_FREEZE set): called only at a
        quiet point (a step boundary, a burst's end), where everything done is counted,
        so the kernel objects and every worker's counters it reads belong to one moment.
        Handlers still run; the caller looks at the cell inline first."""
        cells, want_cell, frozen = self.cells, self.freeze_cell, self.base + T.FROZEN
        while True:
            want = cells[want_cell]
            if not want:
                return
            cells[frozen] = want
            time.sleep(FREEZE_NAP)

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of the run clock (telemetry/clock_cell.py): it stands still while
        the run is paused or stepped, so a lesson's times hold however it is stepped, and
        runs at f in slow motion (where a sleep goes in slices of SLEEP_SLICE, so a change
        of speed applies to a sleep under way). At full speed a sleep is one system call;
        a sleeper that wakes to find the clock stopped (paused meanwhile) or slower waits
        for the rest. The sleep's end (µs of the run clock) is in OP_ARG meanwhile: a
        sleeper the stopped clock keeps from it will not move (runtime/whereabouts.py)."""
        cells, cell = self.cells, self.base + T.CTRL_CLOCK
        start = clock_cell.read(cells[cell], time.monotonic_ns() // 1000)
        if start is None or seconds <= 0:  # no run clock (or `sleep: 0`, a yield)
            self.set_op(T.OP_SLEEP)
            self._sleep_on_wall(seconds)
            return
        end = start + round(seconds * 1e6)
        self.set_op(T.OP_SLEEP, -1, end)
        still = 0
        while True:
            state = cells[cell]
            now = clock_cell.read(state, time.monotonic_ns() // 1000)
            left = end - (now if now is not None else end)
            if left <= 0:
                return
            divisor = clock_cell.divisor(state)
            if divisor is None:
                wall = STILL_FAST_POLL if still < STILL_FAST else STILL_POLL
                still += 1
            else:
                wall = left * divisor / 1e6
                if divisor > 1:
                    wall = min(wall, SLEEP_SLICE)
                still = 0
            self.wait(time.sleep, wall)

    def run_deadline(self, seconds: float) -> Callable[[], float]:
        """`seconds` of the run clock from now (a call's timeout), as a function giving
        the wall seconds to wait at most before looking again, 0 once it has passed: it
        stands still with the run, as the sleep of a server it waits for does."""
        cells, cell = self.cells, self.base + T.CTRL_CLOCK
        start = clock_cell.read(cells[cell], time.monotonic_ns() // 1000)
        if start is None:  # no run clock: the wall clock, stretched by the speed
            end_wall = time.monotonic() + seconds * max(1, cells[self.base + T.CTRL_SPEED])
            return lambda: max(0.0, end_wall - time.monotonic())
        end = start + round(seconds * 1e6)

        def left() -> float:
            state = cells[cell]
            now = clock_cell.read(state, time.monotonic_ns() // 1000)
            if now is None or now >= end:
                return 0.0
            divisor = clock_cell.divisor(state)
            return SLEEP_SLICE if divisor is None else (end - now) * divisor / 1e6

        return left

    def _sleep_on_wall(self, seconds: float) -> None:
        """Sleep `seconds` stretched by the slow-motion divisor, on the wall clock."""
        cells, speed = self.cells, self.base + T.CTRL_SPEED
        if cells[speed] <= 1:
            self.wait(time.sleep, seconds)
            return
        left = seconds
        while left > 0:
            divisor = max(1, cells[speed])
            wall = min(left * divisor, SLEEP_SLICE)
            self.wait(time.sleep, wall)
            left -= wall / divisor

    def close_kept_if_asked(self) -> None:
        """Close the pipe ends this worker kept (`keeps:`) once the runtime has asked
        (the `close` action), each with an event naming its descriptor: from then on the
        kernel no longer counts this process among the pipe's holders of that end."""
        if not self.kept or not self.cells[self._close_cell]:
            return
        with self.changing_descriptors():
            for name, end in sorted(self.kept.items()):
                if name not in self.ctx.endpoints:
                    continue
                endpoint = self.ends.pipe[name]
                fd = endpoint.read_fd if end == "read" else endpoint.write_fd
                if fd is None:
                    continue
                endpoint.forget(fd)
                os.close(fd)
                if end == "read":
                    endpoint.read_fd = None
                else:
                    endpoint.write_fd = None
                self.emit(EventCode.CLOSED_KEPT, self.index(name), number=fd,
                          reason=end == "write")
        self.kept = {}

    def changing_descriptors(self) -> AbstractContextManager[None]:
        """Around a change of this worker's descriptors that may add or remove a pipe's
        end: its row's descriptor generation says so (table.changing_descriptors), and
        the sampler reads its descriptors again."""
        return T.changing_descriptors(self.cells, self.base)

    # ------------------------------------------------------------ failures

    def failed(self, exc: OSError, op: int, channel: str | None = None) -> StepFailed:
        """The StepFailed to raise for `exc` met while doing `op` on `channel`."""
        return StepFailed(exc.errno or errno.EIO, op,
                          -1 if channel is None else self.ctx.channel_index[channel])

    def record_failure(self, failure: StepFailed) -> None:
        """Say in the row (and as an event) why the worker is about to end."""
        cells, base = self.cells, self.base
        cells[base + T.FAILURE_OP] = failure.op
        cells[base + T.FAILURE_CHANNEL] = failure.channel
        cells[base + T.FAILURE] = failure.error
        self.emit(EventCode.FAILED, failure.channel, error=failure.error, op=failure.op)

    # ------------------------------------------------------------ signal masks

    def guard_sigpipe(self) -> None:
        """A burst of pipe writes will block SIGPIPE for an instant (see bursts.py)."""
        self._sigpipe_guard = True
        self.mark_hidden_block()

    def mark_hidden_block(self) -> None:
        """The sampler hides ipcviz's own SIGPIPE block unless the scenario blocked it too."""
        if self._sigpipe_guard:
            own = signal.SIGPIPE in signal.pthread_sigmask(signal.SIG_BLOCK, [])
            self.cells[self.base + T.HIDDEN_BLOCK] = 0 if own else PIPE_BIT
