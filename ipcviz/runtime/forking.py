"""Forking, reaping and restarting workers (a mixin of Runtime), and what a fresh fork
does before it becomes a worker."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections import Counter

import _signal  # its pthread_sigmask returns plain ints: no enum for each of 64 signals

import numpy as np

from ipcviz.host.limits import cap_refused
from ipcviz.host.process import (
    ProcessIdentity,
    allow_tracer,
    die_with_parent,
    finished_children,
)
from ipcviz.runtime.procs import ENDED, Proc, SpawnedProc, decode_status
from ipcviz.runtime.programs import become_program, channel_environment, working_directory
from ipcviz.signals import NSIG
from ipcviz.telemetry import table as T
from ipcviz.worker.interpreter import Interpreter, WorkerContext
from ipcviz.worker.signals import reset_all_dispositions

RESTART_BACKOFF = 0.5
#: Workers (and what they spawn) run at this nice value, so that however many of them are
#: busy the runtime keeps the CPU it needs to sample, reap and end the run on time (it
#: cannot raise its own priority without CAP_SYS_NICE; lowering theirs needs nothing).
WORKER_NICE = 10
#: beyond this many workers, they run at CROWD_NICE: 256 busy workers at nice 10 left the
#: app 2.4 frames a second, at 19 it had 6.3; 510 workers in sleep loops, 4 and 5 (the
#: lessons, with a handful of workers, keep 10: at 19 a loaded machine starved them)
CROWD = 100
CROWD_NICE = 19
#: every signal, blocked across a fork
ALL_SIGNALS = frozenset(int(s) for s in signal.valid_signals())


class Forking:
    """Mixin of `Runtime`: fork a worker, reap it, restart it, name spawned children."""

    def _fork(self, proc: Proc) -> bool:
        """Fork `proc`'s worker; False (and an event) when the process cap is reached."""
        assert self.table is not None and self.registry is not None
        if proc.instance.definition.attach is not None:
            return self._attach(proc)
        if self.slots is None or not self.slots.take():
            self._log(proc.name, cap_refused(self.slots.total if self.slots else 0), "runtime")
            return False
        definition = proc.instance.definition
        keep = set()
        for channel_name, roles in proc.roles.items():
            keep |= self.channel_by_name[channel_name].child_fds(roles)
        gate = self._gate_r if not self.started else None
        if gate is not None:
            keep.add(gate)
        keep.update(self.slots.fds)
        runtime_ident = self._own_identity()
        log_path = str(self.registry.directory / f"{proc.name}.log")
        outputs = self.programs.open(proc.name) if definition.exec is not None else ()
        keep.update(outputs)
        sys.stdout.flush()
        sys.stderr.flush()
        # Block every signal across fork: until the worker has its own handlers (and its own
        # wakeup fd), a signal must not run the runtime's handlers inside the child.
        saved_mask = _signal.pthread_sigmask(signal.SIG_BLOCK, ALL_SIGNALS)
        forked_at = self.elapsed  # "restarted" is dated before the new life's "started"
        # before the fork: a worker's signal to the pid not yet there fails, uncounted
        workers_sent = self._workers_sent_to(proc.row) if proc.started_once else Counter()
        try:
            pid = os.fork()
        except OSError:
            _signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            self.slots.give()
            raise
        if pid != 0:
            _signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            for fd in outputs:
                os.close(fd)
            if definition.exec is not None and definition.trace:  # before it may exec
                tracer = self.tracing.attach(proc.name, pid, str(
                    self.registry.directory / f"{proc.name}.strace.log"))
                if tracer is not None:
                    self.registry.add_process(tracer)
        if pid == 0:  # ---- in the worker (its mask is set once its handlers are in place)
            code = 70
            if self.containment is not None:  # before anything of it can fork
                self.containment.join()
            if definition.exec is not None and definition.trace:
                try:  # first of all: strace (the runtime's child) attaches at once
                    allow_tracer(os.getppid())
                except OSError:
                    pass
            try:
                _become_worker(keep, log_path,
                               CROWD_NICE if len(self.procs) > CROWD else WORKER_NICE)
                if definition.exec is not None:  # a real program: exec it (never returns)
                    self._become_program(proc, outputs, gate)
                endpoints = {name: self.channel_by_name[name].attach(roles)
                             for name, roles in proc.roles.items()}
                ctx = WorkerContext(
                    name=proc.name, definition=definition, row=proc.row, table=self.table,
                    endpoints=endpoints,
                    channel_index={c.name: c.index for c in self.channels},
                    runtime=runtime_ident, gate_fd=gate,
                    spawn_rows=proc.spawn_rows, definitions=dict(self.model.workers),
                    plan=self.scenario.plan,
                    channel_kinds={c.name: c.kind for c in self.channels},
                    definition_name=proc.instance.group,
                    process_slots=self.slots.fds,
                )
                code = Interpreter(ctx).run()
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        # ---- in the runtime
        ident = ProcessIdentity.of(pid) or ProcessIdentity(pid, 0)
        proc.ident = ident
        proc.alive = True
        proc.exit = None
        proc.user_killed = False
        proc.last_signal_from_us = None
        proc.sent_before_life = Counter(proc.sent_to)
        if proc.started_once:
            proc.held_before_life = self._held_by_row(proc.row)
            cells = self.table.array[proc.row]
            proc.received_before_life = cells[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG].copy()
            proc.workers_sent_before_life = workers_sent
        self._by_pid[pid] = proc
        self.registry.add_process(ident)
        base = self.table.row_base(proc.row)
        self.table.cells[base + T.PID] = pid
        self.table.cells[base + T.START] = ident.start
        if proc.started_once:
            proc.restarts += 1
            self._log(proc.name, f"restarted (pid {pid})", "runtime", at=forked_at)
        proc.started_once = True
        return True

    def _own_identity(self) -> ProcessIdentity | None:
        """The runtime's identity (pid and start time), read from /proc once per process
        rather than once per fork."""
        known = getattr(self, "_own_ident", None)
        if known is None or known.pid != os.getpid():
            known = self._own_ident = ProcessIdentity.of(os.getpid())
        return known

    def _attach(self, proc: Proc) -> bool:
        """A running process of the user's (`attach:`): observed, never forked, reaped,
        recorded for the sweep or ended by ipcviz. Its row keeps pid 0, so no worker's
        signal step and no final reading's SIGCONT ever reaches it."""
        attach = proc.instance.definition.attach
        assert attach is not None
        ident = ProcessIdentity.of(attach.pid)
        if ident is None or proc.started_once or (
                attach.start is not None and ident.start != attach.start):
            return False
        proc.ident, proc.alive, proc.exit, proc.started_once = ident, True, None, True
        proc.attached_argv = _cmdline(attach.pid)
        self.program_watch.not_ours.add(proc.name)
        self.attached.append(proc)
        how = "signals allowed" if attach.signals else "observed only"
        self._log(proc.name, f"watching process {attach.pid} ({how})", "runtime")
        return True

    def check_attached(self) -> None:
        """An attached process that has gone (not our child: nobody tells us)."""
        for proc in self.attached:  # (none in most runs: this runs at every loop turn)
            if proc.alive and proc.ident is not None and not proc.ident.exists():
                proc.alive, proc.exit = False, ENDED
                self._log(proc.name, proc.exit_text, "exit")

    def _held_by_row(self, row: int) -> dict[str, int]:
        """Per semaphore, what `row` has acquired and not released so far."""
        assert self.table is not None
        cells, layout = self.table.array[row], self.table.layout
        out = {}
        for c in self.channels:
            if c.kind == "semaphore":
                held = int(cells[layout.channel_cell(c.index, T.ACQUIRED)]
                           - cells[layout.channel_cell(c.index, T.RELEASED)])
                if held > 0:
                    out[c.name] = held
        return out

    def _become_program(self, proc: Proc, outputs: tuple[int, ...], gate: int | None) -> None:
        """In the fork: become the worker's program, its stdin/stdout wired to channels."""
        definition = proc.instance.definition
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPCVIZ_")}
        env.update(channel_environment(self.channels))
        env.update(definition.env)
        if self.containment is not None:  # how tracking finds what it starts
            env.update(self.containment.environment())
        ends = {}
        for link, role in ((definition.stdin, "read"), (definition.stdout, "write")):
            if link is None:
                ends[role] = (None, None)
                continue
            channel = self.channel_by_name[getattr(link, "from_", None) or link.to]
            fds = getattr(channel, "fds", {})
            if channel.kind == "fifo":
                ends[role] = (None, channel.path)
            else:
                ends[role] = (fds.get(role), None)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        become_program(self.program_argv[proc.instance.group],
                       working_directory(definition, self.scenario.path), env,
                       *ends["read"], *ends["write"], outputs[0], outputs[1], gate)

    def reap(self) -> None:
        """Collect every child that ended (workers, and orphans adopted as subreaper)."""
        for pid, status in finished_children():
            if pid in self.tracing.pids:  # a program's strace (took no process slot)
                self.tracing.pids.discard(pid)
                continue
            if self.slots is not None:  # whoever reaps a process hands its slot back
                self.slots.give()
            proc = self._by_pid.pop(pid, None)
            if proc is None:  # an orphaned spawned child, adopted by us as subreaper
                self._orphan_reaped(pid, status)
                continue
            self._ended(proc, status)

    def _orphan_reaped(self, pid: int, status: int) -> None:
        if self.table is None:
            return
        arr = self.table.array
        for row in range(self.spawn_base, arr.shape[0]):
            if arr[row, T.PID] == pid and row not in self.spawn_exit:
                self.spawn_exit[row] = decode_status(status)
                return

    def name_new_children(self) -> None:
        """Name every child spawned since the last call NAME#N, numbered per definition in
        the order they were spawned (once per loop turn, and before a frame is sampled)."""
        if self.table is None or self.spawn_base >= self.table.array.shape[0]:
            return  # no worker spawns: no rows to look at (this runs every loop turn)
        arr = self.table.array
        names = list(self.model.workers)
        used = [int(r) + self.spawn_base  # (a copy: spawners write the column meanwhile)
                for r in np.flatnonzero(arr[self.spawn_base:, T.PID].copy())]
        fresh = sorted((int(arr[row, T.START]), row) for row in used if row not in self._kid_names)
        for _, row in fresh:
            group = names[int(arr[row, T.SPAWN_DEF]) - 1] if arr[row, T.SPAWN_DEF] else "?"
            self._kid_names[row] = f"{group}#{self._kid_count[group]}"
            self._kid_count[group] += 1

    def spawned(self) -> list[SpawnedProc]:
        """Every child a worker has spawned and `name_new_children` has named, from the
        table (one spawned since then shows up after the next call)."""
        if self.table is None:
            return []
        arr = self.table.array
        names = list(self.model.workers)
        used = [int(r) + self.spawn_base for r in np.flatnonzero(arr[self.spawn_base:, T.PID].copy())
                if int(r) + self.spawn_base in self._kid_names]
        if not used:
            return []
        owner = {row: p.name for p in self.procs for row in p.spawn_rows}
        out = []
        for row in used:
            pid = int(arr[row, T.PID])
            group = names[int(arr[row, T.SPAWN_DEF]) - 1] if arr[row, T.SPAWN_DEF] else "?"
            status = int(arr[row, T.EXIT_STATUS])
            exit = decode_status(status - 1) if status else self.spawn_exit.get(row)
            out.append(SpawnedProc(row, self._kid_names[row], group,
                                   owner.get(row, "?"), ProcessIdentity(pid, int(arr[row, T.START])),
                                   exit))
        return out

    def _ended(self, proc: Proc, status: int) -> None:
        proc.alive = False
        proc.exit = decode_status(status)
        proc.user_killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == proc.last_signal_from_us
        self._log(proc.name, proc.exit_text, "exit")
        policy = proc.instance.definition.restart
        failed = proc.exit != 0
        if proc.restart_pending:
            proc.restart_pending = False
            self._fork(proc)
        elif not proc.user_killed and not self.stop_requested and (
                policy == "always" or (policy == "on-failure" and failed)):
            proc.restart_at = self.run_time + RESTART_BACKOFF
        self._release_unneeded()

    def _release_unneeded(self) -> None:
        """Close channel ends no live (or coming back) worker needs: EOF and SIGPIPE are real."""
        needed: dict[str, set[str]] = {}
        for proc in self.procs:
            if proc.alive or proc.restart_pending or proc.restart_at is not None:
                for name, roles in proc.roles.items():
                    needed.setdefault(name, set()).update(roles)
        for channel in self.channels:
            channel.release(needed.get(channel.name, set()))

    def _workers_sent_to(self, row: int) -> Counter:
        """What the workers' `signal` steps have sent to row `row` so far, by signal
        (each sender's "sent to" cells: one writer each, exact)."""
        out: Counter = Counter()
        base = self.table.layout.sent_to_base
        arr = self.table.array
        slots = self.scenario.plan.signal_slots
        senders = [(p.row, p.instance.group) for p in self.procs] + [
            (k.row, k.group) for k in self.spawned()]
        for sender, group in senders:
            for (target, sig), slot in slots.get(group, {}).items():
                if target == row:
                    out[sig] += int(arr[sender, base + slot])
        return out

    def restart(self, proc: Proc) -> None:
        if proc.attached_argv is not None:
            self._log(proc.name, "cannot restart: ipcviz did not start this process",
                      "runtime")
            return
        proc.restart_at = None
        if proc.alive and proc.ident is not None:
            proc.restart_pending = True
            proc.ident.signal(signal.SIGKILL)
        else:
            for name, roles in proc.roles.items():
                for role in roles:
                    self.channel_by_name[name].reopen(role, self._holders(name))
            self._fork(proc)
            self._release_unneeded()

    def _holders(self, channel: str) -> list[tuple[int, set[str]]]:
        return [(p.ident.pid, p.roles[channel]) for p in self.procs
                if p.alive and p.ident is not None and channel in p.roles]


def _become_worker(keep: set[int], log_path: str, nice: int = WORKER_NICE) -> None:
    """In a fresh fork: default signals, die with the runtime, private stdio, no stray fds."""
    reset_all_dispositions()
    if not die_with_parent(signal.SIGKILL):  # the runtime died before prctl took effect
        os._exit(1)
    try:  # below the runtime: it must keep its CPU however many of us are busy
        os.nice(nice)
    except OSError:
        pass
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(log, 2)
    keep = set(keep) | {0, 1, 2}
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 65536)



def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
