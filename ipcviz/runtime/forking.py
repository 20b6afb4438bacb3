"""The run's worker processes: forked (or, with `attach:`, watched), reaped, restarted,
and the channel ends no live worker needs released (so EOF and SIGPIPE are real)."""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable

# its pthread_sigmask returns plain ints: no enum made for each of 64 signals at each fork
import _signal  # type: ignore[import-not-found]  # (the C module under `signal`: no stubs)

from ipcviz.host.limits import cap_refused
from ipcviz.host.process import ProcessIdentity, finished_children
from ipcviz.runtime.children import SpawnedChildren
from ipcviz.runtime.infork import ForkPlan, run_in_fork
from ipcviz.runtime.procs import ENDED, Proc, decode_status
from ipcviz.runtime.program_watch import ProgramWatch
from ipcviz.runtime.programs import ProgramOutput
from ipcviz.runtime.run_objects import Log, RunClock, RunObjects
from ipcviz.runtime.tracing import Tracing
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.scenario.load import LoadedScenario
from ipcviz.signals import NSIG
from ipcviz.telemetry import table as T

RESTART_BACKOFF = 0.5
#: Workers (and what they spawn) run at this nice value, so that however many of them are
#: busy the runtime keeps the CPU it needs to sample, reap and end the run on time (it
#: cannot raise its own priority without CAP_SYS_NICE; lowering theirs needs nothing).
WORKER_NICE = 10
#: beyond this many workers they run at CROWD_NICE: a crowd of busy workers at nice 10
#: leaves the runtime and the app too little CPU to keep up (bench/README.md), while the
#: lessons, with a handful of workers, keep 10: at 19 a loaded machine starves them
CROWD = 100
CROWD_NICE = 19
#: every signal, blocked across a fork
ALL_SIGNALS = frozenset(int(s) for s in signal.valid_signals())


class ProgramParts:
    """The runtime's parts for workers that run programs (`exec:`) or are watched."""

    def __init__(self, output: ProgramOutput, tracing: Tracing, watch: ProgramWatch,
                 argv: dict[str, list[str]]):
        self.output = output
        self.tracing = tracing
        self.watch = watch
        #: definition -> the argv its program runs, resolved before the run
        self.argv = argv


class Workers:
    """The run's workers (across restarts), their forks and their ends."""

    def __init__(self, scenario: LoadedScenario, objects: RunObjects, clock: RunClock,
                 children: SpawnedChildren, programs: ProgramParts, log: Log,
                 run_time: Callable[[], float], stop_requested: Callable[[], bool]):
        """`run_time`: the run clock (restart backoff); `stop_requested`: whether the run
        is ending (then no worker restarts by its policy)."""
        self._scenario = scenario
        self._objects = objects
        self._clock = clock
        self._children = children
        self._programs = programs
        self._log = log
        self._run_time = run_time
        self._stop_requested = stop_requested
        self.procs: list[Proc] = []
        #: workers watching a running process (attach:), checked for its end each turn
        self.attached: list[Proc] = []
        self._by_pid: dict[int, Proc] = {}
        #: the start gate's read end: every worker starts at once
        self._gate: int | None = None
        self._own_ident: ProcessIdentity | None = None

    def fork_all(self, before_gate: Callable[[list[Proc]], None] | None = None) -> None:
        """Fork every worker behind the start gate, then open the gate (`before_gate`:
        what is done with every worker forked and waiting, before it opens)."""
        self._gate, gate_w = os.pipe()
        try:
            for proc in self.procs:
                if not self.fork(proc):
                    slots = self._objects.slots
                    raise RuntimeError(cap_refused(slots.total if slots else 0))
            if before_gate is not None:
                before_gate(self.procs)
        finally:
            os.close(gate_w)

    def close(self) -> None:
        """Close the start gate (at shutdown). Safe to call twice."""
        if self._gate is not None:
            try:
                os.close(self._gate)
            except OSError:
                pass
            self._gate = None

    def fork(self, proc: Proc) -> bool:
        """Fork `proc`'s worker; False (and an event) when the process cap is reached."""
        if proc.instance.definition.attach is not None:
            return self._attach(proc)
        slots, table = self._objects.slots, self._objects.need_table()
        if slots is None or not slots.take():
            self._log(proc.name, cap_refused(slots.total if slots else 0), "runtime")
            return False
        plan = self._plan(proc)
        sys.stdout.flush()
        sys.stderr.flush()
        # Block every signal across fork: until the worker has its own handlers (and its own
        # wakeup fd), a signal must not run the runtime's handlers inside the child.
        saved_mask = _signal.pthread_sigmask(signal.SIG_BLOCK, ALL_SIGNALS)
        forked_at = self._clock.elapsed()  # "restarted" is dated before the new "started"
        # before the fork: a worker's signal to the pid not yet there fails, uncounted
        workers_sent = self.workers_sent_to(proc.row) if proc.started_once else Counter()
        try:
            pid = os.fork()
        except OSError:
            _signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            slots.give()
            raise
        if pid == 0:
            run_in_fork(plan, self._objects, self._scenario)
        _signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        for fd in plan.outputs:
            os.close(fd)
        self._trace(proc, pid)
        self._forked(proc, pid, table, workers_sent, forked_at)
        return True

    def _plan(self, proc: Proc) -> ForkPlan:
        """What the fork of `proc` keeps and runs, worked out before forking."""
        definition = proc.instance.definition
        registry, slots = self._objects.need_registry(), self._objects.slots
        keep: set[int] = set()
        for channel_name, roles in proc.roles.items():
            keep |= self._objects.channel_by_name[channel_name].child_fds(set(roles))
        gate = self._gate if not self._clock.started else None
        if gate is not None:
            keep.add(gate)
        if slots is not None:
            keep.update(slots.fds)
        runs = definition.exec is not None
        outputs = self._programs.output.open(proc.name) if runs else ()
        keep.update(outputs)
        return ForkPlan(
            proc=proc, keep=frozenset(keep),
            log_path=str(registry.directory / f"{proc.name}.log"),
            nice=CROWD_NICE if len(self.procs) > CROWD else WORKER_NICE,
            outputs=outputs, gate=gate, runtime=self._own_identity(),
            argv=self._programs.argv[proc.instance.group] if runs else None)

    def _trace(self, proc: Proc, pid: int) -> None:
        """Start strace on a traced program's fork, before it may exec."""
        definition = proc.instance.definition
        if definition.exec is None or not definition.trace:
            return
        registry = self._objects.need_registry()
        tracer = self._programs.tracing.attach(
            proc.name, pid, str(registry.directory / f"{proc.name}.strace.log"))
        if tracer is not None:
            registry.add_process(tracer)

    def _forked(self, proc: Proc, pid: int, table: T.Table, workers_sent: Counter[int],
                forked_at: float) -> None:
        """The runtime's records of a new life of `proc`: its identity, registry entry,
        table cells, and for a restart what the earlier lives left."""
        ident = ProcessIdentity.of(pid) or ProcessIdentity(pid, 0)
        proc.ident, proc.alive, proc.exit = ident, True, None
        proc.user_killed = False
        proc.last_signal_from_us = None
        proc.sent_before_life = Counter(proc.sent_to)
        if proc.started_once:
            proc.held_before_life = self._held_by_row(proc.row)
            cells = table.array[proc.row]
            proc.received_before_life = cells[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG].copy()
            proc.workers_sent_before_life = workers_sent
        self._by_pid[pid] = proc
        self._objects.need_registry().add_process(ident)
        base = table.row_base(proc.row)
        table.cells[base + T.PID] = pid
        table.cells[base + T.START] = ident.start
        if proc.started_once:
            proc.restarts += 1
            self._log(proc.name, f"restarted (pid {pid})", "runtime", at=forked_at)
        proc.started_once = True

    def _own_identity(self) -> ProcessIdentity:
        """The runtime's identity (pid and start time), read from /proc once per process
        rather than once per fork."""
        known = self._own_ident
        if known is None or known.pid != os.getpid():
            known = self._own_ident = ProcessIdentity.of(os.getpid())
        if known is None:
            raise RuntimeError("cannot read the runtime's own entry in /proc")
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
        self._programs.watch.not_ours.add(proc.name)
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
        table = self._objects.need_table()
        cells, layout = table.array[row], table.layout
        out = {}
        for c in self._objects.channels:
            if CHANNELS[c.kind].counters == "lock":
                held = int(cells[layout.channel_cell(c.index, T.ACQUIRED)]
                           - cells[layout.channel_cell(c.index, T.RELEASED)])
                if held > 0:
                    out[c.name] = held
        return out

    def reap(self) -> None:
        """Collect every child that ended (workers, and orphans adopted as subreaper)."""
        tracers = self._programs.tracing.pids
        for pid, status in finished_children():
            if pid in tracers:  # a program's strace (took no process slot)
                tracers.discard(pid)
                continue
            if self._objects.slots is not None:  # whoever reaps a process gives its slot
                self._objects.slots.give()
            proc = self._by_pid.pop(pid, None)
            if proc is None:  # an orphaned spawned child, adopted by us as subreaper
                self._children.reaped(pid, status)
                continue
            self._ended(proc, status)

    def _ended(self, proc: Proc, status: int) -> None:
        proc.alive = False
        proc.exit = decode_status(status)
        proc.user_killed = (os.WIFSIGNALED(status)
                            and os.WTERMSIG(status) == proc.last_signal_from_us)
        self._log(proc.name, proc.exit_text, "exit")
        policy = proc.instance.definition.restart
        failed = proc.exit != 0
        if proc.restart_pending:
            proc.restart_pending = False
            self.fork(proc)
        elif not proc.user_killed and not self._stop_requested() and (
                policy == "always" or (policy == "on-failure" and failed)):
            proc.restart_at = self._run_time() + RESTART_BACKOFF
        self.release_unneeded()

    def release_unneeded(self) -> None:
        """Close channel ends no live (or coming back) worker needs: EOF and SIGPIPE are
        real."""
        needed: dict[str, set[str]] = {}
        for proc in self.procs:
            if proc.alive or proc.restart_pending or proc.restart_at is not None:
                for name, roles in proc.roles.items():
                    needed.setdefault(name, set()).update(roles)
        for channel in self._objects.channels:
            channel.release(needed.get(channel.name, set()))

    def workers_sent_to(self, row: int) -> Counter[int]:
        """What the workers' `signal` steps have sent to row `row` so far, by signal
        (each sender's "sent to" cells: one writer each, exact)."""
        out: Counter[int] = Counter()
        table = self._objects.need_table()
        base, arr = table.layout.sent_to_base, table.array
        slots = self._scenario.plan.signal_slots
        senders = [(p.row, p.instance.group) for p in self.procs] + [
            (k.row, k.group) for k in self._children.spawned()]
        for sender, group in senders:
            for (target, sig), slot in slots.get(group, {}).items():
                if target == row:
                    out[sig] += int(arr[sender, base + slot])
        return out

    def targets(self, name: str) -> list[Proc]:
        """The workers a command's `to:` or worker name means (a worker or a group)."""
        return [p for p in self.procs if p.name == name or p.instance.group == name]

    def restart(self, proc: Proc) -> None:
        """Restart `proc` now: kill it (the reaper forks it again), or fork an ended one."""
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
                    self._objects.channel_by_name[name].reopen(role, self._holders(name))
            self.fork(proc)
            self.release_unneeded()

    def restart_due(self, now: float) -> None:
        """Fork again every ended worker whose restart (by its policy) is due."""
        for proc in self.procs:
            if proc.restart_at is not None and proc.restart_at <= now and not proc.alive:
                proc.restart_at = None
                self.fork(proc)
                self.release_unneeded()

    def _holders(self, channel: str) -> list[tuple[int, set[str]]]:
        return [(p.ident.pid, set(p.roles[channel])) for p in self.procs
                if p.alive and p.ident is not None and channel in p.roles]

    def next_restart(self) -> float | None:
        """The run time of the earliest restart due by a policy, or None."""
        times = [p.restart_at for p in self.procs if p.restart_at is not None]
        return min(times) if times else None


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
