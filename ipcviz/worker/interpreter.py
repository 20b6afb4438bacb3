"""The step interpreter that runs inside each worker process.

It only sees channel endpoints (from `attach`) and its own telemetry row. Hot paths
(write/read) touch the row with plain memoryview stores; the "blocked on" state is
written only when the worker is really about to wait.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from ipcviz.channels import message
from ipcviz.runtime import limits
from ipcviz.runtime.ident import (
    ProcessIdentity,
    die_with_parent,
    finished_children,
    start_ticks,
)
from ipcviz.runtime.limits import give_slot, take_slot
from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.worker import bursts
from ipcviz.worker.signals import (
    ExitRequested,
    SignalArrived,
    SignalCounter,
    reset_all_dispositions,
)


@dataclass
class WorkerContext:
    """Everything a freshly forked worker needs, handed over by the runtime."""

    name: str
    definition: schema.Worker
    row: int
    table: T.Table
    endpoints: dict[str, Any]
    channel_index: dict[str, int]
    #: name -> rows it reaches (groups and single instances), for `signal` steps
    target_rows: dict[str, list[int]]
    runtime: ProcessIdentity
    gate_fd: int | None = None
    #: rows this worker may give to the children it spawns
    spawn_rows: list[int] = field(default_factory=list)
    #: worker definitions by name, and the channel roles each needs (for `spawn`)
    definitions: dict[str, schema.Worker] = field(default_factory=dict)
    roles_by_group: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    channel_kinds: dict[str, str] = field(default_factory=dict)
    #: the worker definition's name (group), to know its own roles
    definition_name: str = ""
    #: the run's process slots (runtime/limits.py): take one to spawn, give one per reap
    process_slots: tuple[int, int] | None = None


class Interpreter:
    """Runs a worker's steps; returns the exit status."""

    def __init__(self, ctx: WorkerContext):
        self.ctx = ctx
        self.cells = ctx.table.cells
        self.layout = ctx.table.layout
        self.base = ctx.table.row_base(ctx.row)
        self.signals = SignalCounter(self.cells, self.base, dict(ctx.definition.handlers),
                                     self.emit)
        self.signals.reap = self._reap_children
        self._emitting = False
        self._pending: list[tuple[int, int, int]] = []
        self._payloads: dict[int, memoryview] = {}
        self._kids: dict[int, int] = {}  # pid -> row of children this worker spawned
        self._spawned = 0
        self._do = {
            "write": self.do_write, "read": self.do_read, "signal": self.do_signal,
            "wait_signal": self.do_wait_signal, "sleep": self.do_sleep, "exit": self.do_exit,
            "block": self.do_block, "unblock": self.do_unblock, "repeat": self.do_repeat,
            "spawn": self.do_spawn, "increment": self.do_increment, "set": self.do_set,
            "acquire": self.do_acquire, "release": self.do_release,
            "send": self.do_send, "receive": self.do_receive, "echo": self.do_echo,
        }
        self._seq: dict[str, int] = {}
        self._seen: dict[tuple[str, int], tuple[int, set[int]]] = {}
        self._last_written: dict[str, bytes] = {}
        self._indices: dict[int, int | None] = {}
        self._cells_cache: dict[tuple[str, int], int] = {}
        self._compiled: dict[int, Any] = {}
        self._retried = bursts.retried_queues(ctx.definitions)

    # -------------------------------------------------------------- telemetry

    def emit(self, kind: int, a: int = 0, b: int = 0, t_ns: int = 0) -> None:
        """Append an event to this worker's ring (signal handlers may call this too)."""
        if self._emitting:
            self._pending.append((kind, a, b))
            return
        self._emitting = True
        try:
            cells, base = self.cells, self.base
            seq = cells[base + T.EVENT_SEQ]
            slot = base + self.layout.event_base + (seq % T.EVENT_SLOTS) * T.EVENT_COLS
            cells[slot] = t_ns or time.monotonic_ns()
            cells[slot + 1] = kind
            cells[slot + 2] = a
            cells[slot + 3] = b
            cells[base + T.EVENT_SEQ] = seq + 1
        finally:
            self._emitting = False
        if self._pending:
            pending, self._pending = self._pending, []
            for event in pending:
                self.emit(*event)

    def _set_op(self, op: int, channel: int = -1, arg: int = 0) -> None:
        self.cells[self.base + T.OP] = op
        self.cells[self.base + T.OP_CHANNEL] = channel
        self.cells[self.base + T.OP_ARG] = arg

    def _wait(self, fn: Any, *args: Any) -> Any:
        """Call a blocking function with handlers allowed to end the worker at once;
        returns what it returned."""
        self.signals.waiting = True
        try:
            result = fn(*args)
        finally:
            self.signals.waiting = False
        self.signals.check_exit()
        return result

    # -------------------------------------------------------------- main loop

    def run(self) -> int:
        self.signals.install(list(self.ctx.definition.block))
        if self.ctx.gate_fd is not None:
            self._set_op(T.OP_STARTING)
            self._wait(self._read_gate)
        self.emit(T.EV_STARTED, os.getpid())
        try:
            self._run_loops()
            code = 0
        except ExitRequested as exc:
            code = exc.code
        self.signals.drain()
        self._set_op(T.OP_DONE)
        self.emit(T.EV_EXITING, code)
        return code

    def _read_gate(self) -> None:
        fd = self.ctx.gate_fd
        assert fd is not None
        while os.read(fd, 1):
            pass
        os.close(fd)
        self.ctx.gate_fd = None

    def _run_loops(self) -> None:
        definition = self.ctx.definition
        steps = definition.steps
        if not steps:  # a worker with no steps just lives: handlers and keys act on it
            while True:
                self._pause_point()
                self._set_op(T.OP_SLEEP)
                self._wait(time.sleep, 0.5)
        loop = definition.loop
        passes = 0
        burst = self._burst(steps) if loop is not False else None
        if burst is not None:  # one hot step, looped: run it in tight bursts
            bursts.run_bursts(self, burst, None if loop is True else int(loop),
                              self.base + T.LOOPS)
            return
        while True:
            self.run_steps(steps, top=True)
            passes += 1
            self.cells[self.base + T.LOOPS] = passes
            if loop is True:
                continue
            if loop is False or passes >= loop:
                return

    def _compiled_steps(self, steps: list[schema.Step]) -> list[Any]:
        """The steps as zero-argument callables, compiled once per list."""
        compiled = self._compiled.get(id(steps))
        if compiled is None:
            compiled = self._compiled[id(steps)] = [self._compile(step) for step in steps]
        return compiled

    def run_steps(self, steps: list[schema.Step], top: bool = False) -> None:
        compiled = self._compiled_steps(steps)
        cells, signals = self.cells, self.signals
        pause_cell, step_cell = self.base + T.CTRL_PAUSE, self.base + T.STEP
        track = top and len(steps) > 1
        for i, run in enumerate(compiled):
            if track:
                cells[step_cell] = i
            if cells[pause_cell]:
                self._pause_point()
            run()
            if signals.exit_code is not None:
                signals.check_exit()

    def _compile(self, step: schema.Step) -> Any:
        """A zero-argument callable for a step: the hot ones get a fast path."""
        kind, args = step.kind, step.args
        if kind == "write" and self.ctx.channel_kinds.get(args.to) in ("pipe", "fifo"):
            return self._fast_write(args)
        if kind == "read" and self.ctx.channel_kinds.get(args.from_) in ("pipe", "fifo"):
            return self._fast_read(args)
        do = self._do[kind]
        return lambda: do(args)

    def _burst(self, steps: list[schema.Step]) -> bursts.Burst | None:
        """A tight loop for a loop body that is one hot step, or None."""
        if len(steps) != 1:
            return None
        step, one = steps[0], self._compiled_steps(steps)[0]
        kind, args = step.kind, step.args
        channel_kind = self.ctx.channel_kinds.get(getattr(args, "to", None) or getattr(
            args, "from_", None) or "")
        if kind == "write" and channel_kind in ("pipe", "fifo"):
            return bursts.pipe_write(self, args, one)
        if kind == "read" and channel_kind in ("pipe", "fifo") and one is not None:
            read_fd = getattr(one, "read_fd", None)
            return None if read_fd is None else bursts.pipe_read(self, args, one, read_fd)
        if kind == "send" and channel_kind == "mqueue":
            return bursts.mqueue_send(self, args)
        if kind == "receive" and channel_kind == "mqueue":
            return bursts.mqueue_receive(self, args, self._retried)
        return None

    def _fast_write(self, args: schema.WriteArgs) -> Any:
        endpoint, payload = self.ctx.endpoints[args.to], self._payload(args)
        size, cells = len(payload), self.cells
        cell = self._counter(args.to, T.BYTES_WRITTEN)
        last_written = self._last_written
        write_fd = endpoint.write_fd
        slow = self.do_write
        if write_fd is None or args.every:
            return lambda: slow(args)
        name, raw = args.to, bytes(payload)
        write = os.write

        def run() -> None:
            try:
                n = write(write_fd, payload)
            except (BlockingIOError, BrokenPipeError):
                n = 0
            if n == size:  # all of it at once: the common case
                cells[cell] += n
                last_written[name] = raw
            elif n:
                cells[cell] += n
                self._write_rest(args, payload[n:])
            else:
                slow(args)
        return run

    def _write_rest(self, args: schema.WriteArgs, view: memoryview) -> None:
        endpoint = self.ctx.endpoints[args.to]
        cell = self._counter(args.to, T.BYTES_WRITTEN)
        while view:
            try:
                n = endpoint.write_some(view)
            except BrokenPipeError:
                self.cells[self.base + T.EPIPE] += 1
                return
            if n:
                self.cells[cell] += n
                view = view[n:]
            else:
                self._set_op(T.OP_WRITE, self.ctx.channel_index[args.to])
                self._wait(endpoint.wait_writable)
                self.cells[self.base + T.OP] = T.OP_RUNNING
        self._last_written[args.to] = bytes(self._payload(args))

    def _fast_read(self, args: schema.ReadArgs) -> Any:
        endpoint = self.ctx.endpoints[args.from_]
        read_fd, nbytes, cells = endpoint.read_fd, args.bytes, self.cells
        cell = self._counter(args.from_, T.BYTES_READ)
        slow = self.do_read
        writes_too = "write" in self.ctx.roles_by_group.get(self.ctx.definition_name, {}).get(
            args.from_, set()) if self.ctx.definition_name else True
        if read_fd is None or writes_too:
            return lambda: slow(args)
        read = os.read

        def run() -> None:
            try:
                data = read(read_fd, nbytes)
            except BlockingIOError:
                slow(args)
                return
            if data:
                cells[cell] += len(data)
            else:
                slow(args)  # end of file: the slow path says so and ends the worker
        run.read_fd = read_fd  # type: ignore[attr-defined]  # a burst may read it directly
        return run

    def _pause_point(self) -> None:
        if self.cells[self.base + T.CTRL_PAUSE]:
            self._set_op(T.OP_PAUSED)
            while self.cells[self.base + T.CTRL_PAUSE]:
                self._wait(time.sleep, 0.02)
        self.signals.check_exit()
        self.cells[self.base + T.OP] = T.OP_RUNNING

    def _reap_children(self) -> None:
        """The `reap` SIGCHLD action: waitpid(WNOHANG) until no child is left to collect."""
        for pid, status in finished_children():
            if self.ctx.process_slots is not None:
                give_slot(self.ctx.process_slots[1])
            row = self._kids.pop(pid, None)
            if row is not None:
                self.cells[self.ctx.table.row_base(row) + T.EXIT_STATUS] = status + 1
                self.emit(T.EV_REAPED, row, status)

    # -------------------------------------------------------------- steps

    def _payload(self, args: Any) -> memoryview:
        key = id(args)
        view = self._payloads.get(key)
        if view is None:
            view = self._payloads[key] = memoryview(args.payload_bytes())
        return view

    def _counter(self, channel: str, which: int) -> int:
        key = (channel, which)
        cell = self._cells_cache.get(key)
        if cell is None:
            cell = self._cells_cache[key] = self.base + self.layout.channel_cell(
                self.ctx.channel_index[channel], which)
        return cell

    def do_write(self, args: schema.WriteArgs) -> None:
        endpoint = self.ctx.endpoints[args.to]
        if self.ctx.channel_kinds.get(args.to) == "mmap":
            n = endpoint.write(self._payload(args))
            self.cells[self._counter(args.to, T.BYTES_WRITTEN)] += n
            if args.every:
                self.do_sleep(args.every)
            return
        view = self._payload(args)
        cell = self._counter(args.to, T.BYTES_WRITTEN)
        cells = self.cells
        while view:
            try:
                n = endpoint.write_some(view)
            except BrokenPipeError:  # SIGPIPE is ignored or handled: the error is what remains
                cells[self.base + T.EPIPE] += 1
                failures = cells[self.base + T.EPIPE]
                if failures in (1, 10, 100, 1000, 10000):  # the counter has every one
                    self.emit(T.EV_EPIPE, self.ctx.channel_index[args.to], failures)
                self._wait(time.sleep, 0.05)
                return
            if n:
                cells[cell] += n
                view = view[n:]
            else:
                self._set_op(T.OP_WRITE, self.ctx.channel_index[args.to])
                self._wait(endpoint.wait_writable)
                cells[self.base + T.OP] = T.OP_RUNNING
        self._last_written[args.to] = bytes(self._payload(args))
        if args.every:
            self._set_op(T.OP_SLEEP)
            self._wait(time.sleep, args.every)

    def do_read(self, args: schema.ReadArgs) -> None:
        endpoint = self.ctx.endpoints[args.from_]
        kind = self.ctx.channel_kinds.get(args.from_)
        if kind == "mmap":
            self.cells[self._counter(args.from_, T.BYTES_READ)] += len(endpoint.read(args.bytes))
            return
        if kind == "shared_array":  # extension: take a copy of the whole array
            copy = endpoint.values.copy()
            self.cells[self._counter(args.from_, T.BYTES_READ)] += copy.nbytes
            self.emit(T.EV_READ_ARRAY, self.ctx.channel_index[args.from_], int(copy.sum()))
            return
        while True:
            data = endpoint.read_some(args.bytes)
            if data is None:
                if not args.block:
                    return
                self._set_op(T.OP_READ, self.ctx.channel_index[args.from_])
                self._wait(endpoint.wait_readable)
                self.cells[self.base + T.OP] = T.OP_RUNNING
                continue
            if not data:
                self.emit(T.EV_EOF, self.ctx.channel_index[args.from_])
                raise ExitRequested(0)
            self.cells[self._counter(args.from_, T.BYTES_READ)] += len(data)
            if kind in ("pipe", "fifo") and data == self._last_written.get(args.from_):
                # its own message came back out of a shared one-way buffer
                self.cells[self.base + T.SELF_READS] += 1
                self.emit(T.EV_SELF_READ, self.ctx.channel_index[args.from_], len(data))
            return

    def do_signal(self, args: schema.SignalArgs) -> None:
        if args.to == "parent":
            idents = [self.ctx.runtime]
            rows = [-1]
        else:
            rows = self.ctx.target_rows[args.to]
            idents = []
            for row in rows:
                base = self.ctx.table.row_base(row)
                idents.append(ProcessIdentity(self.cells[base + T.PID], self.cells[base + T.START]))
        sent_cell = self.base + T.SIG_SENT + args.sig
        for ident, row in zip(idents, rows):
            sent = 0
            started = time.monotonic_ns()  # the event is dated when kill() was called
            for k in range(args.count):
                if k and args.interval:
                    self._set_op(T.OP_SLEEP)
                    self._wait(time.sleep, args.interval)
                if ident.pid and ident.send(args.sig):
                    sent += 1
            self.cells[sent_cell] += sent
            self.emit(T.EV_SENT, args.sig, (row << 20) | sent, started)

    def do_wait_signal(self, sig: int) -> None:
        baseline = self.signals.count(sig)
        self._set_op(T.OP_WAIT_SIGNAL, -1, sig)
        try:
            self.signals.awaited = sig
            while self.signals.count(sig) <= baseline:
                self._wait(time.sleep, 0.05)
        except SignalArrived:
            pass
        finally:
            self.signals.awaited = None
        self.emit(T.EV_WAITED, sig)

    def do_sleep(self, seconds: float) -> None:
        self._set_op(T.OP_SLEEP)
        self._wait(time.sleep, seconds)

    def do_exit(self, code: int) -> None:
        raise ExitRequested(code)

    def do_block(self, sigs: list[int]) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        self.emit(T.EV_BLOCK, sigs[0] if sigs else 0, len(sigs))
        self._mark_hidden_block()

    def do_unblock(self, sigs: list[int]) -> None:
        self.emit(T.EV_UNBLOCK, sigs[0] if sigs else 0, len(sigs))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
        self._mark_hidden_block()

    def guard_sigpipe(self) -> None:
        """A burst of pipe writes will block SIGPIPE for an instant (see bursts.py)."""
        self._sigpipe_guard = True
        self._mark_hidden_block()

    def _mark_hidden_block(self) -> None:
        """The sampler hides ipcviz's own SIGPIPE block unless the scenario blocked it too."""
        if getattr(self, "_sigpipe_guard", False):
            own = signal.SIGPIPE in signal.pthread_sigmask(signal.SIG_BLOCK, [])
            self.cells[self.base + T.HIDDEN_BLOCK] = 0 if own else bursts.PIPE_BIT

    def do_spawn(self, kid: str) -> None:
        """fork() a child running `kid`'s definition: this worker is its real parent."""
        if self._spawned >= len(self.ctx.spawn_rows):
            self.emit(T.EV_SPAWN_LIMIT, len(self.ctx.spawn_rows))
            return
        slots = self.ctx.process_slots
        if slots is not None and not take_slot(slots[0]):
            self.emit(T.EV_PROCESS_CAP, limits.MAX_PROCESSES, 0)
            return
        row = self.ctx.spawn_rows[self._spawned]
        self._spawned += 1
        roles = self.ctx.roles_by_group.get(kid, {})
        saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            pid = os.fork()
        except OSError:
            if slots is not None:
                give_slot(slots[1])
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            raise
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        if pid == 0:  # the kid sets its own mask once its handlers are installed
            code = 70
            try:
                reset_all_dispositions()
                if not die_with_parent(signal.SIGKILL):
                    os._exit(1)
                self.signals.close()
                endpoints = {name: self.ctx.endpoints[name].for_roles(r)
                             for name, r in roles.items()}
                ctx = replace(self.ctx, name=f"{kid}#{row}", definition=self.ctx.definitions[kid],
                              definition_name=kid,
                              row=row, endpoints=endpoints, gate_fd=None, spawn_rows=[])
                code = Interpreter(ctx).run()
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        base = self.ctx.table.row_base(row)
        cells = self.cells
        cells[base + T.START] = start_ticks(pid) or 0
        cells[base + T.SPAWN_DEF] = list(self.ctx.definitions).index(kid) + 1
        cells[base + T.PARENT_ROW] = self.ctx.row
        cells[base + T.PID] = pid
        self._kids[pid] = row
        self.emit(T.EV_SPAWNED, row, pid)

    # -------------------------------------------------------- message passing

    def _send_message(self, name: str, packed: bytes, priority: int, block: bool) -> bool:
        endpoint = self.ctx.endpoints[name]
        send_blocking = getattr(endpoint, "send_blocking", None)
        if block and send_blocking is not None:
            # a message is atomic: either in the queue or not, so a blocking send cannot
            # lose a count; "blocked" is what the kernel says while we sit in it
            cells, op = self.cells, self.base + T.OP
            cells[op] = T.OP_SEND
            cells[self.base + T.OP_CHANNEL] = self.ctx.channel_index[name]
            self._wait(send_blocking, packed, priority)
            cells[op] = T.OP_RUNNING
            return True
        while not endpoint.send_now(packed, priority):
            if not block:
                return False
            self._set_op(T.OP_SEND, self.ctx.channel_index[name])
            self._wait(endpoint.wait_sendable, 200)
        if getattr(endpoint, "rendezvous", False):  # capacity 0: wait for the receiver
            self._set_op(T.OP_SEND, self.ctx.channel_index[name])
            while not self._wait(endpoint.wait_ack, 0.2):
                pass
        self.cells[self.base + T.OP] = T.OP_RUNNING
        return True

    def _count_sent(self, name: str, size: int) -> None:
        self.cells[self._counter(name, T.MESSAGES_SENT)] += 1
        self.cells[self._counter(name, T.BYTES_WRITTEN)] += size

    def do_send(self, args: schema.SendArgs) -> None:
        payload = self._payload(args)
        seq = self._seq[args.to] = self._seq.get(args.to, 0) + 1
        packed = message.pack(self.ctx.row, seq, payload)
        if not self._send_message(args.to, packed, args.priority, args.block):
            self.emit(T.EV_SEND_FULL, self.ctx.channel_index[args.to])
            return
        self._count_sent(args.to, len(payload))
        if args.ack is None:
            return
        for _ in range(args.retries):  # no acknowledgement in time: send it again
            if self._await_ack(args.ack, seq, args.ack_timeout):
                return
            self._send_message(args.to, packed, args.priority, True)
            self._count_sent(args.to, len(payload))
            self.emit(T.EV_RETRY, self.ctx.channel_index[args.to], seq)
        self._await_ack(args.ack, seq, args.ack_timeout)

    def _await_ack(self, name: str, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        endpoint = self.ctx.endpoints[name]
        while True:
            got = endpoint.receive_now()
            if got is not None:
                _, acked, payload = message.unpack(got[0])
                self.cells[self._counter(name, T.MESSAGES_RECEIVED)] += 1
                self.cells[self._counter(name, T.BYTES_READ)] += len(payload)
                if acked == seq:
                    return True
                continue  # a late acknowledgement of an earlier message
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._set_op(T.OP_RECEIVE, self.ctx.channel_index[name])
            self._wait(endpoint.wait_receivable, max(1, int(left * 1000)))

    def do_receive(self, args: schema.ReceiveArgs) -> None:
        name = args.from_
        endpoint = self.ctx.endpoints[name]
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        got = endpoint.receive_now()
        while got is None:
            if not args.block:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            self._set_op(T.OP_RECEIVE, self.ctx.channel_index[name])
            self._wait(endpoint.wait_receivable, 200 if left is None else
                       max(1, min(200, int(left * 1000))))
            got = endpoint.receive_now()
        self.cells[self.base + T.OP] = T.OP_RUNNING
        sender, seq, payload = message.unpack(got[0])
        cells = self.cells
        cells[self._counter(name, T.MESSAGES_RECEIVED)] += 1
        cells[self._counter(name, T.BYTES_READ)] += len(payload)
        if sender == self.ctx.row:
            cells[self.base + T.SELF_READS] += 1
        if self._already_seen(name, sender, seq):
            cells[self.base + T.DUPLICATES] += 1
            self.emit(T.EV_DUPLICATE, self.ctx.channel_index[name], seq)
        if args.ack is not None:
            self._send_message(args.ack, message.pack(self.ctx.row, seq, b""), 0, True)
            self._count_sent(args.ack, 0)

    def _already_seen(self, name: str, sender: int, seq: int) -> bool:
        """Has this (sender, sequence) arrived before? Remembers a window of 4096 per sender."""
        top, recent = self._seen.get((name, sender), (0, set()))
        if seq in recent:
            return True
        recent.add(seq)
        top = max(top, seq)
        if len(recent) > 8192:
            recent = {s for s in recent if s > top - 4096}
        self._seen[(name, sender)] = (top, recent)
        return False

    def do_echo(self, args: schema.EchoArgs) -> None:
        """Server side: read from whichever client has data and write it back to it."""
        endpoint = self.ctx.endpoints[args.on]
        data = endpoint.read_some(args.bytes)
        while data is None:
            self._set_op(T.OP_ECHO, self.ctx.channel_index[args.on])
            self._wait(endpoint.wait_readable, 200)
            data = endpoint.read_some(args.bytes)
        self.cells[self.base + T.OP] = T.OP_RUNNING
        self.cells[self._counter(args.on, T.BYTES_READ)] += len(data)
        view = memoryview(data)
        while view:
            n = endpoint.write_some(view)
            if n:
                self.cells[self._counter(args.on, T.BYTES_WRITTEN)] += n
                view = view[n:]
            else:
                self._wait(endpoint.wait_writable, 200)

    # -------------------------------------------------------- shared memory

    def _flat_index(self, args: Any, shape: tuple[int, ...]) -> int | None:
        key = id(args)
        if key not in self._indices:
            index = args.index
            if index is None:
                self._indices[key] = None if args.__class__ is schema.SetArgs else 0
            else:
                parts = index if isinstance(index, list) else [index]
                flat = 0
                for i, n in zip(parts, shape):
                    flat = flat * n + i
                self._indices[key] = flat
        return self._indices[key]

    def do_increment(self, args: schema.IncrementArgs) -> None:
        """`times` plain read-modify-writes; each one under the semaphore when `lock:` is on."""
        array = self.ctx.endpoints[args.array]
        flat, last_writer = array.flat, array.last_writer
        index = self._flat_index(args, array.values.shape)
        cells, row = self.cells, self.ctx.row
        done_cell = self._counter(args.array, T.INCREMENTS)
        lock_off = self.base + T.CTRL_LOCK_OFF
        lock = self.ctx.endpoints[args.lock] if args.lock else None
        channel = self.ctx.channel_index[args.array]
        self._set_op(T.OP_INCREMENT, channel)
        left = args.times
        while left:
            n = min(bursts.BURST, left)
            left -= n
            if lock is not None and not cells[lock_off]:
                for _ in range(n):  # each one under the lock, counted as it is done
                    self._acquire(lock, args.lock)
                    value = flat[index]
                    flat[index] = value + 1
                    last_writer[index] = row
                    cells[done_cell] += 1
                    self._release(lock, args.lock)
            else:  # a burst of plain read-modify-writes, counted at its end
                bursts.unlocked_increments(flat, index, n)
                last_writer[index] = row
                cells[done_cell] += n
            if left:
                if self.signals.exit_code is not None:
                    self.signals.check_exit()
                if cells[self.base + T.CTRL_PAUSE]:
                    self._pause_point()
                    self._set_op(T.OP_INCREMENT, channel)

    def do_set(self, args: schema.SetArgs) -> None:
        array = self.ctx.endpoints[args.array]
        index = self._flat_index(args, array.values.shape)
        if index is None:
            array.flat[:] = args.value
            array.last_writer[:] = self.ctx.row
        else:
            array.flat[index] = args.value
            array.last_writer[index] = self.ctx.row
        self.emit(T.EV_SET, self.ctx.channel_index[args.array], -1 if index is None else index)

    def _acquire(self, sem: Any, name: str) -> None:
        if not sem.try_acquire():
            self._set_op(T.OP_ACQUIRE, self.ctx.channel_index[name])
            while not self._wait(sem.acquire_for, 0.2):
                pass
            self.cells[self.base + T.OP] = T.OP_RUNNING
        self.cells[self._counter(name, T.ACQUIRED)] += 1

    def _release(self, sem: Any, name: str) -> None:
        sem.release()
        self.cells[self._counter(name, T.RELEASED)] += 1

    def do_acquire(self, name: str) -> None:
        self._acquire(self.ctx.endpoints[name], name)

    def do_release(self, name: str) -> None:
        self._release(self.ctx.endpoints[name], name)

    def do_repeat(self, args: schema.RepeatArgs) -> None:
        burst = self._burst(args.steps)
        if burst is not None:
            bursts.run_bursts(self, burst, None if args.times == "forever" else args.times)
            return
        if args.times == "forever":
            while True:
                self.run_steps(args.steps)
        for _ in range(args.times):
            self.run_steps(args.steps)
