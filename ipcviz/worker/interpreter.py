"""The step interpreter that runs inside each worker process: run, compile, burst choice
and spawn.

It only sees channel endpoints (from `attach`) and its own telemetry row (row.py). What
each step does is in `steps/` (one module per family, one table of kinds); tight loops
for one-step loops are in bursts.py; every step passes the step boundary (boundary.py)
before it runs.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import replace
from typing import Any

from ipcviz.host import limits
from ipcviz.host.process import die_with_parent, finished_children, start_ticks
from ipcviz.scenario import schema
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import (EXIT_BY_HANDLER, EXIT_BY_STEP, EXIT_FAILED,
                                          EXIT_STEPS_DONE)
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker import bursts
from ipcviz.worker.boundary import hold
from ipcviz.worker.context import WorkerContext
from ipcviz.worker.row import FAILED_STATUS, StepFailed, WorkerRow
from ipcviz.worker.signals import ExitRequested, reset_all_dispositions
from ipcviz.worker.steps import compile_step, describe_step
from ipcviz.worker.steps.streams import STREAM_KINDS, fast_read_fd

__all__ = ["Interpreter", "WorkerContext"]


class Interpreter:
    """Runs a worker's steps; returns the exit status."""

    def __init__(self, ctx: WorkerContext):
        self.ctx = ctx
        self.row = WorkerRow(ctx)
        self.row.runner = self
        self.cells = self.row.cells
        self.base = self.row.base
        self.signals = self.row.signals
        self.signals.reap = self._reap_children
        self._kids: dict[int, int] = {}  # pid -> row of children this worker spawned
        self._spawned = 0
        self._compiled: dict[int, list[Any]] = {}
        self._described: dict[int, list[Any]] = {}
        self._retried = ctx.plan.retried

    # -------------------------------------------------------------- run

    def run(self) -> int:
        row = self.row
        definition = self.ctx.definition
        self.signals.install(list(definition.block), dict(definition.sa_flags))
        if self.ctx.gate_fd is not None:
            row.set_op(T.OP_STARTING)
            row.wait(self._read_gate)
        row.emit(EV.STARTED, pid=os.getpid())
        why = EXIT_STEPS_DONE
        try:
            self._run_loops()
            code = 0
        except ExitRequested as exc:
            code = exc.code
            why = EXIT_BY_HANDLER if self.signals.exit_code is not None else EXIT_BY_STEP
        except StepFailed as failure:  # the reason goes in the row; nothing half counted
            row.record_failure(failure)
            code = FAILED_STATUS
            why = EXIT_FAILED
        self.signals.drain()
        row.set_op(T.OP_DONE)
        row.emit(EV.EXITING, value=code, reason=why)
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
                hold(self.row)
                self.row.sleep(0.5)
        loop = definition.loop
        passes = 0
        burst = self._burst(steps) if loop is not False else None
        if burst is not None:  # one hot step, looped: run it in tight bursts
            bursts.run_bursts(self.row, burst, None if loop is True else int(loop),
                              self.base + T.LOOPS, self._descriptions(steps)[0])
            return
        while True:
            self.run_steps(steps, top=True)
            passes += 1
            self.cells[self.base + T.LOOPS] = passes
            if loop is True:
                continue
            if loop is False or passes >= loop:
                return

    def run_steps(self, steps: list[schema.Step], top: bool = False) -> None:
        """Run each step once, every one through the step boundary first."""
        compiled = self._compiled_steps(steps)
        row, cells, signals = self.row, self.cells, self.signals
        pause_cell, step_cell = row.pause_cell, self.base + T.STEP
        freeze_cell = row.freeze_cell
        track = top and len(steps) > 1
        for i, run in enumerate(compiled):
            if track:
                cells[step_cell] = i
            if cells[freeze_cell]:  # the sampler reads a frame (WorkerRow.freeze)
                row.freeze()
            if cells[pause_cell]:  # the step boundary (boundary.py)
                next_op = self._descriptions(steps)[i]
                if next_op is not None:  # (a `repeat` is no operation: its steps hold)
                    hold(row, next_op)
            if row.kept:  # pipe ends kept open unused: closed here once asked (`close`)
                row.close_kept_if_asked()
            run()
            if signals.exit_code is not None:
                signals.check_exit()

    def repeat(self, args: schema.RepeatArgs) -> None:
        """The `repeat` step: its steps `times` times (in bursts when it is one hot step)."""
        burst = self._burst(args.steps)
        if burst is not None:
            bursts.run_bursts(self.row, burst, None if args.times == "forever" else args.times,
                              None, self._descriptions(args.steps)[0])
            return
        if args.times == "forever":
            while True:
                self.run_steps(args.steps)
        for _ in range(args.times):
            self.run_steps(args.steps)

    # -------------------------------------------------------------- compile

    def _compiled_steps(self, steps: list[schema.Step]) -> list[Any]:
        """The steps as zero-argument callables, compiled once per list."""
        compiled = self._compiled.get(id(steps))
        if compiled is None:
            compiled = self._compiled[id(steps)] = [
                compile_step(self.row, step.kind, step.args) for step in steps]
        return compiled

    def _descriptions(self, steps: list[schema.Step]) -> list[Any]:
        """What each step does, for a worker held before it (made when first needed)."""
        described = self._described.get(id(steps))
        if described is None:
            described = self._described[id(steps)] = [
                describe_step(self.row, step.kind, step.args) for step in steps]
        return described

    def _burst(self, steps: list[schema.Step]) -> bursts.Burst | None:
        """A tight loop for a loop body that is one hot step, or None (also for a worker
        that keeps a pipe end: a `close` must reach it at its next step)."""
        if len(steps) != 1 or self.row.kept:
            return None
        step, one = steps[0], self._compiled_steps(steps)[0]
        kind, args = step.kind, step.args
        channel_kind = self.ctx.channel_kinds.get(getattr(args, "to", None) or getattr(
            args, "from_", None) or "")
        if kind == "write" and channel_kind in STREAM_KINDS:
            return bursts.pipe_write(self.row, args, one)
        if kind == "read" and channel_kind in STREAM_KINDS:
            read_fd = fast_read_fd(self.row, args)
            return None if read_fd is None else bursts.pipe_read(self.row, args, one, read_fd)
        message_bursts = channel_kind in CHANNELS and CHANNELS[channel_kind].message_bursts
        if kind == "send" and message_bursts:
            return bursts.mqueue_send(self.row, args)
        if kind == "receive" and message_bursts:
            return bursts.mqueue_receive(self.row, args, self._retried)
        return None

    # -------------------------------------------------------------- spawn

    def spawn(self, kid: str) -> None:
        """The `spawn` step: fork() a child running `kid`'s definition; this worker is its
        real parent. A fork the kernel refuses (EAGAIN: process limit, ENOMEM) ends this
        worker as a StepFailed, with the reason in its row."""
        if self._spawned >= len(self.ctx.spawn_rows):
            self.row.emit(EV.SPAWN_LIMIT, count=len(self.ctx.spawn_rows))
            return
        slots = self.ctx.process_slots
        if slots is not None and not limits.take_slot(slots[0]):
            self.row.emit(EV.PROCESS_CAP, count=limits.MAX_PROCESSES)
            return
        row = self.ctx.spawn_rows[self._spawned]
        roles = self.ctx.plan.roles.get(kid, {})
        saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        forked_ns = time.monotonic_ns()  # "spawned" is dated before the kid's "started"
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            if slots is not None:
                limits.give_slot(slots[1])
            raise self.row.failed(exc, T.OP_SPAWN) from None
        self._spawned += 1
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        if pid == 0:  # the kid sets its own mask once its handlers are installed
            code = 70
            try:
                reset_all_dispositions()
                if not die_with_parent(signal.SIGKILL):
                    os._exit(1)
                self.signals.close()
                endpoints = {name: self.ctx.endpoints[name].for_roles(set(r))
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
        self.row.emit(EV.SPAWNED, t_ns=forked_ns, peer_row=row, pid=pid)

    def _reap_children(self) -> None:
        """The `reap` SIGCHLD action: waitpid(WNOHANG) until no child is left to collect."""
        for pid, status in finished_children():
            if self.ctx.process_slots is not None:
                limits.give_slot(self.ctx.process_slots[1])
            row = self._kids.pop(pid, None)
            if row is not None:
                self.cells[self.ctx.table.row_base(row) + T.EXIT_STATUS] = status + 1
                self.row.emit(EV.REAPED, peer_row=row)
