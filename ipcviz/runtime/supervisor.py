"""The runtime supervisor: creates channels, forks and reaps workers, runs the timeline,
obeys commands, samples Snapshots and cleans everything up.

It is single-threaded: forking workers from it is safe. It runs either inside
`ipcviz run --headless` or as its own process (`python -m ipcviz.runtime`) that the
TUI starts and talks to over a pipe.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections import Counter
from collections.abc import Collection

import posix_ipc

from ipcviz.channels.base import Channel
from ipcviz.host import limits
from ipcviz.host.limits import ProcessSlots, cap_refused
from ipcviz.host.process import ProcessIdentity, become_subreaper, is_subreaper
from ipcviz.host.registry import Registry
from ipcviz.host.sweep import sweep_dead_runs
from ipcviz.host.runroot import RunRootError
from ipcviz.protocol import from_scenario
from ipcviz.runtime.actions import Actions
from ipcviz.runtime.cleanup import Cleanup
from ipcviz.runtime.containment import Containment
from ipcviz.runtime.bursts import SignalBurst
from ipcviz.runtime.forking import Forking
from ipcviz.runtime.inbox import STOP_REQUESTS, SignalInbox, sent_by_a_process
from ipcviz.runtime.procs import Proc
from ipcviz.runtime.program_watch import ProgramWatch
from ipcviz.runtime.programs import ProgramOutput, attach_problem, prepare_programs
from ipcviz.runtime.scheduler import Scheduler, parse_schedule
from ipcviz.runtime.tracing import Tracing, strace_missing
from ipcviz.scenario.kinds import channel_class
from ipcviz.scenario.load import LoadedScenario
from ipcviz.scenario.programs import exec_refusal
from ipcviz.signals import SIGRTMAX, UNCATCHABLE
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import EventView

class StartError(Exception):
    """The kernel refused something the scenario needs; the message says what, in one line."""


class Runtime(Forking, Actions, Cleanup):
    """One run of one scenario: its state and its loop; forking and reaping (forking.py),
    commands and the timeline (actions.py) and the end of the run (cleanup.py) are mixins."""

    def __init__(self, scenario: LoadedScenario, clock=time.monotonic,
                 schedule: list[str] | None = None, speed: float | None = None,
                 allow_exec: bool = False, held: bool = False):
        """`held`: start held (`start: held`), the live runtime's only."""
        self.scenario = scenario
        #: a scenario file of the user's may run its `exec:` programs (bundled ones may)
        self.allow_exec = allow_exec
        self.programs = ProgramOutput(self._log)
        self.program_watch = ProgramWatch()
        self.tracing = Tracing(self._log)
        #: workers watching a running process (attach:), checked for its end each turn
        self.attached: list[Proc] = []
        self.program_argv: dict[str, list[str]] = {}
        self._leaks_recorded = False
        self.clock = clock
        self.model = scenario.model
        self.procs: list[Proc] = []
        self.channels: list[Channel] = []
        self.channel_by_name: dict[str, Channel] = {}
        self.t0 = 0.0
        self.started = False
        self.stop_requested = False
        self.parent_received: Counter = Counter()
        self.pending_events: list[EventView] = []
        self._timeline = sorted(self.model.timeline, key=lambda e: e.at)
        #: run time the timeline's `at:` count from: 0, or the moment every program with
        #: `ready:` printed its line (until then `_timeline_waits` names them)
        self._timeline_base = 0.0
        self._timeline_waits: set[str] = set()
        self._triggers = {t.key: from_scenario(t) for t in self.model.triggers}
        #: signals sent `interval` apart: (due, seq, to, sig, source, interval, first due)
        self._spaced: list[tuple[float, int, str, int, str, float, float]] = []
        #: when the last of them went to each (target, signal), in run time
        self._spaced_sent: dict[tuple[str, int], float] = {}
        self._next_event = 0
        self._wake_r = self._wake_w = -1
        self._gate_r: int | None = None
        self._by_pid: dict[int, Proc] = {}
        self.registry: Registry | None = None
        self.table: T.Table | None = None
        self.swept: list[str] = []
        self.kid_sent_to: dict[int, Counter] = {}
        self.spawn_base = 0
        self.spawn_exit: dict[int, int | str] = {}
        self._kid_idents: list[ProcessIdentity] = []
        #: processes the programs started, already put into the registry
        self._recorded_descendants: set[ProcessIdentity] = set()
        self._trees_due = 0.0
        #: the run's cgroup, or the tracking that stands for it (made in `_start`)
        self.containment: Containment | None = None
        self._kid_names: dict[int, str] = {}
        self._kid_count: Counter = Counter()
        self._inbox: SignalInbox | None = None
        self._bursts: list[SignalBurst] = []
        self.slots: ProcessSlots | None = None
        # run-wide time control (scheduler.py): the scenario's schedule/speed unless overridden
        model = scenario.model
        self.scheduler = Scheduler(
            self, parse_schedule(model.schedule or []) if schedule is None else schedule,
            model.after_schedule, model.speed if speed is None else speed, clock, held)

    # ---------------------------------------------------------------- start

    def start(self) -> None:
        """Create every object, fork every worker, open the start gate."""
        refusal = exec_refusal(self.model, self.scenario.bundled, self.allow_exec)
        if refusal:  # before anything is created, compiled or started
            raise StartError(refusal)
        self.program_argv, problems = prepare_programs(self.model, self.scenario.path)
        if problems:
            raise StartError(problems[0])
        for name, w in self.model.workers.items():
            if w.attach is not None:  # a process of the user's, there now
                problem = attach_problem(w.attach.pid, w.attach.start)
                if problem:
                    raise StartError(f"worker '{name}': {problem}")
        if any(w.exec is not None and w.trace for w in self.model.workers.values()):
            missing = strace_missing()
            if missing:
                raise StartError(missing)
        try:
            self.swept = sweep_dead_runs().removed
            self.registry = Registry.create()
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

    def _start(self) -> None:
        assert self.registry is not None
        self.containment = Containment.make(self.registry.run_id, self.registry.directory)
        if any(w.exec is not None for w in self.model.workers.values()):
            self._log("runtime", self.containment.describe(), "runtime")
        instances = self.scenario.instances
        plan = self.scenario.plan  # roles, spawns and signal targets, worked out at load
        spawners = [i for i in instances if plan.spawns[i.group]]
        self.spawn_base = len(instances)
        rows = len(instances) + T.SPAWN_ROWS * len(spawners)
        self.table = T.Table(T.Layout(channels=len(self.model.channels), rows=rows,
                                      sent_slots=plan.sent_slots))
        for index, (name, spec) in enumerate(self.model.channels.items()):
            channel = channel_class(spec.kind)(name, index, spec, self.registry)
            channel.create()
            self.channels.append(channel)
            self.channel_by_name[name] = channel
        block = self.spawn_base
        for row, inst in enumerate(instances):
            proc = Proc(inst, row, plan.roles[inst.group])
            if plan.spawns[inst.group]:
                proc.spawn_rows = list(range(block, block + T.SPAWN_ROWS))
                block += T.SPAWN_ROWS
            self.procs.append(proc)
        self.scheduler.attach()
        self._install_signals()
        #: the process's role before the run (a Runtime inside another program, a test,
        #: gives it back at shutdown: else that program's orphans become its zombies)
        self.was_subreaper = is_subreaper()
        become_subreaper()
        self.slots = ProcessSlots(limits.MAX_PROCESSES)
        for proc in self.procs:  # the timeline waits for these programs' `ready:` lines
            text = proc.instance.definition.ready
            if text is not None and proc.instance.definition.exec is not None:
                self.programs.ready_text[proc.name] = text
                self._timeline_waits.add(proc.name)
                if self._timeline:
                    self._log(proc.name, f"the timeline waits for {text!r} from it",
                              "runtime")
        if any(p.instance.definition.exec is not None for p in self.procs):
            self.program_watch.note_start()  # what exists before any program runs
        self._gate_r, gate_w = os.pipe()
        try:
            for proc in self.procs:
                if not self._fork(proc):
                    raise RuntimeError(cap_refused(self.slots.total))
        finally:
            os.close(gate_w)
        self.t0 = self.clock()
        self.scheduler.start_clock()
        self.started = True
        self._release_unneeded()

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # Handlers stay for what the inbox does not take (and for a signal delivered to
        # another thread of a process that embeds the runtime): they only count.
        for num in range(1, SIGRTMAX + 1):
            if num in UNCATCHABLE or num in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
                continue
            try:
                signal.signal(num, self._on_signal)
            except (OSError, ValueError):
                pass
        self._inbox = SignalInbox()

    def _on_signal(self, signum: int, frame: object) -> None:
        pass  # counted from the wakeup pipe in `_drain_signals`

    def _drain_signals(self, readable: Collection[int] | None = None) -> None:
        """Count what was sent to the runtime; a stop request ends the run. A SIGCHLD counts
        only when a process sent it (not the kernel's, for a child that changed state).
        `readable`: the fds select() found readable (the others are not read: two failed
        reads a loop turn); None: both are read."""
        if self._inbox is not None and (readable is None or self._inbox.fd in readable):
            me = os.getpid()
            for num, code, sender in self._inbox.read():
                if num in STOP_REQUESTS:
                    self.stop_requested = True
                elif sent_by_a_process(code) and sender != me:
                    self.parent_received[num] += 1
        if readable is not None and self._wake_r not in readable:
            return
        for _ in range(16):  # bounded, like the inbox: a flood waits for the next turn
            try:
                data = os.read(self._wake_r, 4096)
            except BlockingIOError:
                return
            if not data:
                return
            for num in data:
                if num in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    self.stop_requested = True
                elif num != signal.SIGCHLD:
                    self.parent_received[num] += 1

    # ---------------------------------------------------------------- loop

    @property
    def elapsed(self) -> float:
        return self.clock() - self.t0 if self.started else 0.0

    @property
    def run_time(self) -> float:
        """The run clock (timeline, restarts): slowed by the speed, stopped while held."""
        return self.scheduler.run_time() if self.started else 0.0

    def all_ended(self) -> bool:
        return self.started and not any(
            p.alive or p.restart_pending or p.restart_at is not None for p in self.procs)

    def next_deadline(self) -> float | None:
        """Seconds until the runtime has something scheduled (timeline, restart)."""
        times = []
        now, speed = self.run_time, self.scheduler.speed
        if self._next_event < len(self._timeline) and not self._timeline_waits:
            times.append((self._timeline[self._next_event].at + self._timeline_base - now)
                         / speed)
        times += [(p.restart_at - now) / speed for p in self.procs if p.restart_at is not None]
        if self._spaced:
            times.append((self._spaced[0][0] - now) / speed)
        if self._bursts:  # signals still to send: come straight back
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
        inbox = [self._inbox.fd] if self._inbox is not None else []
        try:
            readable, _, _ = select.select([self._wake_r, *inbox, *extra_fds,
                                            *self.programs.fds, *self.tracing.fds], [], [],
                                           max(0.0, timeout))
        except InterruptedError:
            readable = []
        for fd in readable:
            if fd in self.programs.streams:
                self.programs.read(fd)
            elif fd in self.tracing.fds:
                self.tracing.read(fd)
        self._drain_signals(readable)
        self.reap()
        self.check_attached()
        self.name_new_children()
        if self.program_argv:  # programs run: their descendants go into the registry
            self.record_program_trees()  # (their output may be closed: a daemon's is)
        self._run_due()
        self.pump_bursts()
        self.scheduler.tick()
        return [fd for fd in readable if fd in extra_fds]

    def observe_channels(self) -> None:
        """Read every channel's kernel state (keeps maxima such as max_buffered current)."""
        for channel in self.channels:
            channel.observe()

    def _log(self, worker: str, text: str, kind: str, at: float | None = None) -> None:
        """An event of the runtime's, dated now or at `at` (seconds of elapsed time)."""
        when = self.elapsed if at is None else at
        self.pending_events.append(EventView(round(when, 3), worker, text, kind))

    def take_events(self) -> list[EventView]:
        events, self.pending_events = self.pending_events, []
        return events
