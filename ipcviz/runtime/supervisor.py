"""The runtime supervisor: creates channels, forks and reaps workers, runs the timeline,
obeys commands, samples Snapshots and cleans everything up.

It is single-threaded: forking workers from it is safe. It runs either inside
`ipcviz run --headless` or as its own process (`python -m ipcviz.runtime`) that the
TUI starts and talks to over a pipe.

`Runtime` is made of parts, each owning its state and given the others it needs:
`Workers` (forking.py) forks, reaps and restarts; `SpawnedChildren` (children.py) names
what they spawn; `SignalSender` (sending.py) sends signals in bursts; `Actions`
(actions.py) carries out commands; `Timeline` (timeline.py) the scenario's timeline;
`Scheduler` (scheduler.py) run-wide time; `SignalIntake` (signal_intake.py) what is
sent to the runtime; `Cleaner` (cleanup.py) the end of the run. The kernel objects they
share are a `RunObjects` (run_objects.py).
"""

from __future__ import annotations

import select
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import posix_ipc

from ipcviz.channels.base import Channel
from ipcviz.host import limits
from ipcviz.host.limits import ProcessSlots
from ipcviz.host.process import become_subreaper, is_subreaper
from ipcviz.host.registry import Registry
from ipcviz.host.runroot import RunRootError
from ipcviz.host.sweep import sweep_dead_runs
from ipcviz.protocol import Command
from ipcviz.runtime.actions import Actions
from ipcviz.runtime.children import SpawnedChildren
from ipcviz.runtime.cleanup import Cleaner
from ipcviz.runtime.containment import Containment
from ipcviz.runtime.forking import ProgramParts, Workers
from ipcviz.runtime.procs import Proc, SpawnedProc
from ipcviz.runtime.program_watch import ProgramWatch
from ipcviz.runtime.programs import ProgramOutput, attach_problem, prepare_programs
from ipcviz.runtime.run_objects import EventLog, RunClock, RunObjects
from ipcviz.runtime.scheduler import Scheduler, parse_schedule
from ipcviz.runtime.sending import SignalSender
from ipcviz.runtime.signal_intake import SignalIntake
from ipcviz.runtime.syscall_views import SyscallViews
from ipcviz.runtime.timeline import Timeline
from ipcviz.runtime.tracing import Tracing, strace_missing
from ipcviz.scenario.kinds import channel_class
from ipcviz.scenario.load import LoadedScenario
from ipcviz.scenario.programs import exec_refusal
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import EventView


class StartError(Exception):
    """The kernel refused something the scenario needs; the message says what, in one line."""


class Runtime:
    """One run of one scenario: its parts, its start, its loop and its end."""

    def __init__(self, scenario: LoadedScenario, clock: Callable[[], float] = time.monotonic,
                 schedule: list[str] | None = None, speed: float | None = None,
                 allow_exec: bool = False, held: bool = False):
        """`held`: start held (`start: held`), the live runtime's only."""
        self.scenario = scenario
        self.model = model = scenario.model
        #: a scenario file of the user's may run its `exec:` programs (bundled ones may)
        self.allow_exec = allow_exec
        self.objects = objects = RunObjects()
        self.run_clock = RunClock(clock)
        self.events = EventLog(self.run_clock.elapsed, self.run_time_of)
        log = self.events.log
        self.parts = ProgramParts(ProgramOutput(log), Tracing(log), ProgramWatch(), {})
        self.intake = SignalIntake()
        self.children = SpawnedChildren(objects, list(model.workers))
        self.workers = Workers(scenario, objects, self.run_clock, self.children, self.parts,
                               log, lambda: self.run_time, lambda: self.intake.stop_requested)
        self.sender = SignalSender(self.workers, self.children, self.run_clock, log,
                                   lambda: self.run_time)
        # run-wide time control: the scenario's schedule and speed unless overridden
        self.scheduler = Scheduler(
            self, parse_schedule(model.schedule or []) if schedule is None else schedule,
            model.after_schedule, model.speed if speed is None else speed, clock, held)
        self.actions = Actions(model, objects, self.run_clock, self.workers, self.sender,
                               self.scheduler, log)
        self.timeline = Timeline(model, self.workers, self.parts.output, log,
                                 self.actions.execute)
        self.cleaner = Cleaner(objects, self.workers, self.children, self.parts)
        #: the compared channels' system calls, counted by the kernel (count_syscalls)
        self.syscalls = SyscallViews(model)
        #: dead runs' leftovers the start swept away
        self.swept: list[str] = []
        #: whether the process was a subreaper before the run (given back at shutdown)
        self._was_subreaper = True

    # ---------------------------------------------------------------- start

    def start(self) -> None:
        """Create every object, fork every worker, open the start gate."""
        self._check_can_start()
        try:
            self.swept = sweep_dead_runs().removed
            self.objects.registry = Registry.create()
        except RunRootError as exc:
            raise StartError(str(exc)) from None
        except OSError as exc:
            raise StartError(f"cannot start: cannot make the run directory: {exc}") from None
        try:
            self._start()
        except (OSError, RuntimeError, ValueError, posix_ipc.Error) as exc:
            self.shutdown()
            raise StartError(f"cannot start: {exc}") from None
        except BaseException:
            self.shutdown()
            raise

    def _check_can_start(self) -> None:
        """Refuse, before anything is created, compiled or started, a run that cannot
        start: programs not allowed or not found, a process to attach to that is gone."""
        refusal = exec_refusal(self.model, self.scenario.bundled, self.allow_exec)
        if refusal:
            raise StartError(refusal)
        argv, problems = prepare_programs(self.model, self.scenario.path)
        if problems:
            raise StartError(problems[0])
        self.parts.argv.update(argv)
        workers = self.model.workers
        for name, w in workers.items():
            if w.attach is not None:  # a process of the user's, there now
                problem = attach_problem(w.attach.pid, w.attach.start)
                if problem:
                    raise StartError(f"worker '{name}': {problem}")
        if any(w.exec is not None and w.trace for w in workers.values()):
            missing = strace_missing()
            if missing:
                raise StartError(missing)

    def _start(self) -> None:
        objects, registry = self.objects, self.objects.need_registry()
        objects.containment = Containment.make(registry.run_id, registry.directory)
        runs_programs = any(w.exec is not None for w in self.model.workers.values())
        if runs_programs:
            self.events.log("runtime", objects.containment.describe(), "runtime")
        self._make_table()
        for index, (name, spec) in enumerate(self.model.channels.items()):
            channel = channel_class(spec.kind)(name, index, spec, registry)
            channel.create()
            objects.channels.append(channel)
            objects.channel_by_name[name] = channel
        self._make_procs()
        self.scheduler.attach()
        self.intake.install()
        self._was_subreaper = is_subreaper()
        become_subreaper()
        objects.slots = ProcessSlots(limits.MAX_PROCESSES)
        self.timeline.wait_for_ready_lines()
        if runs_programs:
            self.parts.watch.note_start()  # what exists before any program runs
        self.workers.fork_all(self.syscalls.open)
        self.run_clock.begin()
        self.scheduler.start_clock()
        self.workers.release_unneeded()

    def _make_table(self) -> None:
        """The telemetry table: a row per worker, and spawn rows for each spawner's
        children after them."""
        instances, plan = self.scenario.instances, self.scenario.plan
        spawners = [i for i in instances if plan.spawns[i.group]]
        self.children.base = len(instances)
        rows = len(instances) + T.SPAWN_ROWS * len(spawners)
        self.objects.table = T.Table(T.Layout(channels=len(self.model.channels), rows=rows,
                                              sent_slots=plan.sent_slots))

    def _make_procs(self) -> None:
        """The runtime's record of each worker, with its spawn rows."""
        plan, block = self.scenario.plan, self.children.base
        for row, inst in enumerate(self.scenario.instances):
            proc = Proc(inst, row, plan.roles[inst.group])
            if plan.spawns[inst.group]:
                proc.spawn_rows = list(range(block, block + T.SPAWN_ROWS))
                block += T.SPAWN_ROWS
                self.children.owner.update((r, proc.name) for r in proc.spawn_rows)
            self.workers.procs.append(proc)

    # ---------------------------------------------------------------- loop

    @property
    def elapsed(self) -> float:
        """Wall time since the run began (0 before it begins and after it ends)."""
        return self.run_clock.elapsed()

    @property
    def run_time(self) -> float:
        """The run clock (timeline, restarts): slowed by the speed, stopped while held."""
        return self.scheduler.run_time() if self.run_clock.started else 0.0

    def held_start_ends(self) -> None:
        """A held start goes on, every worker still held: the system calls count from now."""
        self.syscalls.restart()

    def run_time_of(self, elapsed: float) -> float:
        """The run clock when `elapsed` (wall seconds since the start) had passed: an
        event's time as the header counts it."""
        if not self.run_clock.started:
            return 0.0
        return self.scheduler.run_time_at(self.run_clock.t0 + elapsed)

    def all_ended(self) -> bool:
        return self.run_clock.started and not any(
            p.alive or p.restart_pending or p.restart_at is not None for p in self.procs)

    @property
    def looks_each_turn(self) -> bool:
        """Something only a loop turn notices: an attached process's end (nobody tells
        us) or a program's new descendants (for the sweep). Otherwise every change a turn
        acts on wakes the loop or is a deadline (`next_deadline`)."""
        return bool(self.workers.attached) or bool(self.parts.argv)

    def next_deadline(self) -> float | None:
        """Seconds until the runtime has something scheduled (timeline, restart)."""
        now, speed = self.run_time, self.scheduler.speed
        due = [at for at in (self.timeline.next_due(), self.workers.next_restart(),
                             self.sender.next_spaced()) if at is not None]
        times = [(at - now) / speed for at in due]
        if self.sender.busy:  # signals still to send: come straight back
            times.append(0.0)
        if self.scheduler.busy:  # a schedule under way: look at the workers again soon
            times.append(0.001)
        return max(0.0, min(times)) if times else None

    def poll(self, timeout: float, extra_fds: tuple[int, ...] = ()) -> list[int]:
        """Wait up to `timeout` for children, signals or `extra_fds`; do what is due.

        Returns the extra fds that are readable.
        """
        deadline = self.next_deadline()
        if deadline is not None:
            timeout = min(timeout, deadline)
        output, tracing = self.parts.output, self.parts.tracing
        try:
            readable, _, _ = select.select(
                [*self.intake.fds, *extra_fds, *output.fds, *tracing.fds], [], [],
                max(0.0, timeout))
        except InterruptedError:
            readable = []
        for fd in readable:
            if fd in output.streams:
                output.read(fd)
            elif fd in tracing.fds:
                tracing.read(fd)
        self.intake.drain(readable)
        if readable or self.looks_each_turn:  # a child's end wakes us (SIGCHLD)
            self.workers.reap()
        self.workers.check_attached()
        self.children.name_new()
        if self.parts.argv:  # programs run: their descendants go into the registry
            self.cleaner.record_program_trees()  # (their output may be closed: a daemon's is)
        now = self.run_time
        self.timeline.run_due(now)
        self.sender.run_spaced(now)
        self.workers.restart_due(now)
        self.sender.pump()
        self.scheduler.tick()
        return [fd for fd in readable if fd in extra_fds]

    def observe_channels(self) -> None:
        """Read every channel's kernel state (keeps maxima such as max_buffered current)."""
        for channel in self.objects.channels:
            channel.observe()

    def name_new_children(self) -> None:
        """Name the children spawned since the last call (children.py)."""
        self.children.name_new()

    def cut_bursts(self) -> None:
        """The run is ending: signals still to send are not sent (sending.py)."""
        self.sender.cut()

    # ---------------------------------------------------------------- end

    def shutdown(self) -> None:
        """Kill and reap every worker, close and unlink every object. Safe to call twice."""
        self.sender.cut()
        self.children.name_new()
        self.cleaner.end_processes()
        self.cleaner.close_objects()
        self.intake.close()
        if not self._was_subreaper:  # every process of the run has ended
            become_subreaper(False)
            self._was_subreaper = True
        self.workers.close()
        self.syscalls.close()
        self.run_clock.started = False

    def quiesce(self, timeout: float = 1.5, limit: float = 10.0) -> bool:
        """Hold every worker and wait until no counter moves (cleanup.py)."""
        return self.cleaner.quiesce(timeout, limit)

    def leaks(self) -> dict[str, Any]:
        """What of this run is still present (after `shutdown`): must all be zero."""
        return self.cleaner.leaks()

    # ---------------------------------------------------------------- what others read

    @property
    def table(self) -> T.Table | None:
        return self.objects.table

    @property
    def registry(self) -> Registry | None:
        return self.objects.registry

    @property
    def containment(self) -> Containment | None:
        return self.objects.containment

    @property
    def slots(self) -> ProcessSlots | None:
        return self.objects.slots

    @property
    def channels(self) -> Sequence[Channel]:
        return self.objects.channels

    @property
    def channel_by_name(self) -> dict[str, Channel]:
        return self.objects.channel_by_name

    @property
    def procs(self) -> Sequence[Proc]:
        return self.workers.procs

    @property
    def programs(self) -> ProgramOutput:
        return self.parts.output

    @property
    def tracing(self) -> Tracing:
        return self.parts.tracing

    @property
    def program_watch(self) -> ProgramWatch:
        return self.parts.watch

    @property
    def kid_sent_to(self) -> dict[int, Counter[int]]:
        """What the runtime has sent each spawned child (by row), by signal."""
        return self.children.sent_to

    @property
    def started(self) -> bool:
        return self.run_clock.started

    @property
    def t0(self) -> float:
        return self.run_clock.t0

    @property
    def stop_requested(self) -> bool:
        return self.intake.stop_requested

    @property
    def parent_received(self) -> Counter[int]:
        """What was sent to the runtime (`to: parent`), by signal."""
        return self.intake.received

    @property
    def pending_events(self) -> list[EventView]:
        return self.events.pending

    def spawned(self) -> list[SpawnedProc]:
        """Every child the workers have spawned, named (children.py)."""
        return self.children.spawned()

    def log(self, worker: str, text: str, kind: str, at: float | None = None) -> None:
        """An event of the runtime's, dated now or at `at` (seconds of elapsed time)."""
        self.events.log(worker, text, kind, at)

    def take_events(self) -> list[EventView]:
        return self.events.take()

    def execute(self, command: Command, source: str = "key") -> None:
        """A UI command, a trigger or a timeline entry (actions.py)."""
        self.actions.execute(command, source)

    def send_signal(self, to: str, sig: int, count: int = 1, source: str = "key") -> int:
        """Signal every live worker `to` names (sending.py); how many went out at once."""
        return self.sender.send(to, sig, count, source)

    def restart(self, proc: Proc) -> None:
        self.workers.restart(proc)
