"""The runtime supervisor: creates channels, forks and reaps workers, runs the timeline,
obeys commands, samples Snapshots and cleans everything up.

It is single-threaded: forking workers from it is safe. It runs either inside
`ipcviz run --headless` or as its own process (`python -m ipcviz.runtime`) that the
TUI starts and talks to over a pipe.
"""

from __future__ import annotations

import heapq
import os

import numpy as np
import posix_ipc
import select
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from ipcviz.channels import channel_class
from ipcviz.channels.base import Channel
from ipcviz.host import limits
from ipcviz.host.limits import ProcessSlots, cap_refused
from ipcviz.host.process import (
    ProcessIdentity,
    become_subreaper,
    die_with_parent,
    finished_children,
    read_stat,
)
from ipcviz.host.registry import Registry, sweep_dead_runs
from ipcviz.host.runroot import RunRootError
from ipcviz.runtime.bursts import SLICE_BUDGET, BurstTarget, SignalBurst
from ipcviz.runtime.inbox import STOP_REQUESTS, SignalInbox, sent_by_a_process
from ipcviz.runtime.scheduler import Scheduler, parse_schedule
from ipcviz.scenario import schema
from ipcviz.scenario.load import LoadedScenario, WorkerInstance
from ipcviz.signals import SIGRTMAX, UNCATCHABLE, signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import EventView
from ipcviz.worker.interpreter import Interpreter, WorkerContext
from ipcviz.worker.signals import reset_all_dispositions

RESTART_BACKOFF = 0.5
#: Workers (and what they spawn) run at this nice value, so that however many of them are
#: busy the runtime keeps the CPU it needs to sample, reap and end the run on time (it
#: cannot raise its own priority without CAP_SYS_NICE; lowering theirs needs nothing).
WORKER_NICE = 10

class StartError(Exception):
    """The kernel refused something the scenario needs; the message says what, in one line."""


@dataclass
class SpawnedProc:
    """A child a worker spawned (its row in the table says who and which pid)."""

    row: int
    name: str
    group: str
    parent: str
    ident: ProcessIdentity
    exit: int | str | None


@dataclass
class Proc:
    """The runtime's record of one worker process (across restarts)."""

    instance: WorkerInstance
    row: int
    roles: dict[str, frozenset[str]]  # channel -> roles (the plan's, for its definition)
    ident: ProcessIdentity | None = None
    alive: bool = False  # forked and not yet reaped
    exit: int | str | None = None
    restarts: int = 0
    last_signal_from_us: int | None = None
    user_killed: bool = False
    restart_pending: bool = False
    restart_at: float | None = None
    sent_to: Counter = field(default_factory=Counter)
    started_once: bool = False
    spawn_rows: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.instance.name

    @property
    def exit_text(self) -> str:
        if self.exit is None:
            return ""
        if isinstance(self.exit, str):
            return f"killed by {self.exit}"
        return f"exited {self.exit}"


class Runtime:
    """One run of one scenario."""

    def __init__(self, scenario: LoadedScenario, clock=time.monotonic,
                 schedule: list[str] | None = None, speed: float | None = None):
        self.scenario = scenario
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
        self._spaced: list[tuple[float, int, str, int, str]] = []  # (due, seq, to, sig, source)
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
        self._kid_names: dict[int, str] = {}
        self._kid_count: Counter = Counter()
        self._inbox: SignalInbox | None = None
        self._bursts: list[SignalBurst] = []
        self.slots: ProcessSlots | None = None
        # run-wide time control (scheduler.py): the scenario's schedule/speed unless overridden
        model = scenario.model
        self.scheduler = Scheduler(
            self, parse_schedule(model.schedule or []) if schedule is None else schedule,
            model.after_schedule, model.speed if speed is None else speed, clock)

    # ---------------------------------------------------------------- start

    def start(self) -> None:
        """Create every object, fork every worker, open the start gate."""
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
        self.spawn_exit: dict[int, int | str] = {}
        block = self.spawn_base
        for row, inst in enumerate(instances):
            proc = Proc(inst, row, plan.roles[inst.group])
            if plan.spawns[inst.group]:
                proc.spawn_rows = list(range(block, block + T.SPAWN_ROWS))
                block += T.SPAWN_ROWS
            self.procs.append(proc)
        self.scheduler.attach()
        self._install_signals()
        become_subreaper()
        self.slots = ProcessSlots(limits.MAX_PROCESSES)
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

    def _drain_signals(self) -> None:
        """Count what was sent to the runtime; a stop request ends the run. A SIGCHLD counts
        only when a process sent it (not the kernel's, for a child that changed state)."""
        if self._inbox is not None:
            me = os.getpid()
            for num, code, sender in self._inbox.read():
                if num in STOP_REQUESTS:
                    self.stop_requested = True
                elif sent_by_a_process(code) and sender != me:
                    self.parent_received[num] += 1
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

    def _fork(self, proc: Proc) -> bool:
        """Fork `proc`'s worker; False (and an event) when the process cap is reached."""
        assert self.table is not None and self.registry is not None
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
        runtime_ident = ProcessIdentity.of(os.getpid())
        log_path = str(self.registry.directory / f"{proc.name}.log")
        sys.stdout.flush()
        sys.stderr.flush()
        # Block every signal across fork: until the worker has its own handlers (and its own
        # wakeup fd), a signal must not run the runtime's handlers inside the child.
        saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
            self.slots.give()
            raise
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        if pid == 0:  # ---- in the worker (its mask is set once its handlers are in place)
            code = 70
            try:
                _become_worker(keep, log_path)
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
        self._by_pid[pid] = proc
        self.registry.add_process(ident)
        base = self.table.row_base(proc.row)
        self.table.cells[base + T.PID] = pid
        self.table.cells[base + T.START] = ident.start
        if proc.started_once:
            proc.restarts += 1
            self._log(proc.name, f"restarted (pid {pid})", "runtime")
        proc.started_once = True
        return True

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
        if self._next_event < len(self._timeline):
            times.append((self._timeline[self._next_event].at - now) / speed)
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
            readable, _, _ = select.select([self._wake_r, *inbox, *extra_fds], [], [],
                                           max(0.0, timeout))
        except InterruptedError:
            readable = []
        self._drain_signals()
        self.reap()
        self._run_due()
        self.pump_bursts()
        self.scheduler.tick()
        return [fd for fd in readable if fd in extra_fds]

    def _run_due(self) -> None:
        now = self.run_time
        while self._next_event < len(self._timeline) and self._timeline[self._next_event].at <= now:
            event = self._timeline[self._next_event]
            self._next_event += 1
            self.run_action(event.action, getattr(event, event.action), source="timeline")
        while self._spaced and self._spaced[0][0] <= now:
            _, _, to, sig, source = heapq.heappop(self._spaced)
            self.send_signal(to, sig, 1, source)
        for proc in self.procs:
            if proc.restart_at is not None and proc.restart_at <= now and not proc.alive:
                proc.restart_at = None
                self._fork(proc)
                self._release_unneeded()

    def reap(self) -> None:
        """Collect every child that ended (workers, and orphans adopted as subreaper)."""
        for pid, status in finished_children():
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

    def spawned(self) -> list[SpawnedProc]:
        """Every child a worker has spawned so far, from the table."""
        if self.table is None:
            return []
        arr = self.table.array
        names = list(self.model.workers)
        used = [int(r) + self.spawn_base for r in np.flatnonzero(arr[self.spawn_base:, T.PID])]
        if not used:
            return []
        owner = {row: p.name for p in self.procs for row in p.spawn_rows}
        fresh = sorted((int(arr[row, T.START]), row) for row in used if row not in self._kid_names)
        for _, row in fresh:  # NAME#N, numbered per definition in the order they were spawned
            group = names[int(arr[row, T.SPAWN_DEF]) - 1] if arr[row, T.SPAWN_DEF] else "?"
            self._kid_names[row] = f"{group}#{self._kid_count[group]}"
            self._kid_count[group] += 1
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

    # ---------------------------------------------------------------- actions

    def run_action(self, action: str, arg: object, source: str = "key") -> None:
        """A timeline, trigger or UI action (see docs/scenario-format.md)."""
        if action == "signal":
            assert isinstance(arg, schema.SignalArgs)
            if arg.interval and arg.count > 1:
                self.send_signal(arg.to, arg.sig, 1, source)
                for k in range(1, arg.count):
                    heapq.heappush(self._spaced, (self.run_time + k * arg.interval,
                                                  len(self._spaced) + k, arg.to, arg.sig, source))
            else:
                self.send_signal(arg.to, arg.sig, arg.count, source)
        elif action in ("kill", "stop", "cont"):
            sig = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "cont": signal.SIGCONT}[action]
            self.send_signal(str(arg), int(sig), 1, source)
        elif action == "restart":
            for proc in self._targets(str(arg)):
                self.restart(proc)
        elif action in ("pause_steps", "resume_steps"):
            for proc in self._targets(str(arg)):
                self._control_bit(proc, T.CTRL_PAUSE, T.PAUSE_WORKER, action == "pause_steps")
                self._log(proc.name, "steps paused" if action == "pause_steps"
                          else "steps resumed", "runtime")
        elif action == "lock":
            assert isinstance(arg, schema.LockArgs)
            for proc in self._targets(arg.worker):
                self._control(proc, T.CTRL_LOCK_OFF, 0 if arg.enabled else 1)
                self._log(proc.name, f"lock use {'on' if arg.enabled else 'OFF'}", "runtime")

    def _targets(self, name: str) -> list[Proc]:
        return [p for p in self.procs if p.name == name or p.instance.group == name]

    def _control(self, proc: Proc, cell: int, value: int) -> None:
        assert self.table is not None
        self.table.cells[self.table.row_base(proc.row) + cell] = value

    def _control_bit(self, proc: Proc, cell: int, bit: int, on: bool) -> None:
        """Set or clear one bit of a control cell (the run-wide bits stay as they are)."""
        assert self.table is not None
        at = self.table.row_base(proc.row) + cell
        cells = self.table.cells
        cells[at] = cells[at] | bit if on else cells[at] & ~bit

    def send_signal(self, to: str, sig: int, count: int = 1, source: str = "key") -> int:
        """Signal every live worker `to` names, `count` times each, as a burst sent a slice
        per loop iteration (see bursts.py); returns how many went out at once."""
        burst = SignalBurst(sig, count, source)
        for kid in self.spawned():
            if to in (kid.name, kid.group) and kid.exit is None:
                counter = self.kid_sent_to.setdefault(kid.row, Counter())
                burst.targets.append(BurstTarget(
                    kid.name, kid.ident, False, count,
                    lambda n, c=counter: c.__setitem__(sig, c[sig] + n)))
        for proc in self._targets(to):
            if not proc.alive or proc.ident is None:
                continue
            burst.targets.append(BurstTarget(proc.name, proc.ident, True, count,
                                             lambda n, p=proc: self._sent_to_worker(p, sig, n)))
        if not burst.targets:
            return 0
        self._bursts.append(burst)
        self.pump_bursts()
        return sum(t.sent for t in burst.targets)

    def _sent_to_worker(self, proc: Proc, sig: int, count: int) -> None:
        proc.sent_to[sig] += count
        proc.last_signal_from_us = sig

    def pump_bursts(self, budget: float = SLICE_BUDGET) -> None:
        """Send from the pending bursts for at most `budget` seconds, oldest first."""
        deadline = time.monotonic() + budget
        while self._bursts and time.monotonic() < deadline:
            burst = self._bursts[0]
            if not burst.send_some(deadline):
                return
            self._bursts.pop(0)
            self._burst_done(burst, cut=False)

    def cut_bursts(self) -> None:
        """The run is ending: what is still to send is not sent; say so truthfully."""
        bursts, self._bursts = self._bursts, []
        for burst in bursts:
            self._burst_done(burst, cut=True)

    def _burst_done(self, burst: SignalBurst, cut: bool) -> None:
        burst.close()
        for target in burst.targets:
            if not target.sent:
                continue
            times = f" ×{target.sent}" if burst.count > 1 else ""
            text = f"{burst.source}: {signal_name(burst.sig)}{times} sent"
            if target.remaining:
                why = "it ended" if target.gone else "the run ended"
                text += f" ({target.remaining} of {burst.count} not sent: {why})"
            self._log(target.name, text, "signal")

    def restart(self, proc: Proc) -> None:
        proc.restart_at = None
        if proc.alive and proc.ident is not None:
            proc.restart_pending = True
            proc.ident.send(signal.SIGKILL)
        else:
            for name, roles in proc.roles.items():
                for role in roles:
                    self.channel_by_name[name].reopen(role, self._holders(name))
            self._fork(proc)
            self._release_unneeded()

    def _holders(self, channel: str) -> list[tuple[int, set[str]]]:
        return [(p.ident.pid, p.roles[channel]) for p in self.procs
                if p.alive and p.ident is not None and channel in p.roles]

    def quiesce(self, timeout: float = 1.5) -> bool:
        """Pause every worker at its next step boundary and wait until no counter moves.

        A worker counts what it moved right after each system call, so once all are paused
        (or blocked, with nothing in flight) the table and the kernel agree exactly. A
        worker stopped by SIGSTOP may be stopped in the middle of a burst with its count
        not yet stored, so stopped workers are woken (a SIGCONT they do not count, see
        T.CTRL_QUIET_CONT), held at their boundary, and stopped again.
        """
        if self.table is None:
            return False
        arr = self.table.array
        arr[:, T.CTRL_PAUSE] |= T.PAUSE_WORKER
        woken = wake_stopped(self.table)
        counters = slice(T.SIG_RECEIVED, self.table.layout.event_base)
        deadline = time.monotonic() + timeout
        previous = arr[:, counters].copy()
        still = 0
        try:
            while time.monotonic() < deadline:
                time.sleep(0.02)
                self.reap()
                current = arr[:, counters].copy()
                still = still + 1 if (current == previous).all() else 0
                previous = current
                if still >= 3 and not self._signals_in_flight():
                    return True
            return False
        finally:
            for ident in woken:  # held at their boundary now: stopped again, as they were
                ident.send(signal.SIGSTOP)

    def _signals_in_flight(self) -> bool:
        """True while a live worker has a signal not yet in its count: pending in the kernel
        (and not blocked), or delivered and still being counted (the worker is running: a
        paused worker sleeps, and a delivery wakes it until its handler has counted)."""
        for proc in self.procs:
            if not proc.alive or proc.ident is None:
                continue
            stat = read_stat(proc.ident.pid)
            if (stat is not None and stat.state == "R") or _deliverable(proc.ident.pid):
                return True
        return False

    def observe_channels(self) -> None:
        """Read every channel's kernel state (keeps maxima such as max_buffered current)."""
        for channel in self.channels:
            channel.observe()

    def _log(self, worker: str, text: str, kind: str) -> None:
        self.pending_events.append(EventView(round(self.elapsed, 3), worker, text, kind))

    def take_events(self) -> list[EventView]:
        events, self.pending_events = self.pending_events, []
        return events

    # ---------------------------------------------------------------- end

    def shutdown(self) -> None:
        """Kill and reap every worker, close and unlink every object. Safe to call twice."""
        self.cut_bursts()
        kids = [k.ident for k in self.spawned()]
        self._kid_idents += kids
        for proc in self.procs:
            proc.restart_at = None
            proc.restart_pending = False
            if proc.alive and proc.ident is not None:
                proc.ident.send(signal.SIGKILL)
        for kid in kids:  # they would die with their parent anyway (PDEATHSIG)
            kid.send(signal.SIGKILL)
        deadline = time.monotonic() + 3.0

        def busy() -> bool:
            return any(p.alive for p in self.procs) or any(k.exists() for k in kids)

        while busy() and time.monotonic() < deadline:
            self.reap()
            if busy():
                time.sleep(0.005)
        self.reap()
        for channel in self.channels:
            try:
                channel.close()
            except OSError:
                pass
        self.channels = []
        if self.registry is not None:
            self.registry.remove_all()
        if self.table is not None:
            self.table.close()
            self.table = None
        try:  # first: no handler may write to the wakeup pipe once it is closed
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        if self.slots is not None:
            self.slots.close()
            self.slots = None
        for fd in (self._gate_r, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._gate_r = None
        self._wake_r = self._wake_w = -1
        self.started = False

    def leaks(self) -> dict[str, object]:
        """What of this run is still present (after `shutdown`): must all be zero."""
        assert self.registry is not None
        processes = [pid for pid, start in self.registry.processes
                     if ProcessIdentity(pid, start).exists()]
        processes += [k.pid for k in self._kid_idents if k.exists()]
        objects = self.registry.leaked_objects()
        return {"processes": len(processes), "ipc_objects": len(objects),
                "details": [f"process {p}" for p in processes] + objects}


def wake_stopped(table: T.Table) -> list[ProcessIdentity]:
    """SIGCONT every worker of the table (spawned ones too) the kernel shows stopped;
    returns those woken."""
    arr = table.array
    woken = []
    for row in np.flatnonzero(arr[:, T.PID]):
        ident = ProcessIdentity(int(arr[row, T.PID]), int(arr[row, T.START]))
        stat = read_stat(ident.pid)
        if stat is None or stat.start_ticks != ident.start or stat.state not in ("T", "t"):
            continue
        table.cells[table.row_base(int(row)) + T.CTRL_QUIET_CONT] += 1
        if ident.send(signal.SIGCONT):
            woken.append(ident)
    return woken


def _deliverable(pid: int) -> bool:
    """Whether /proc/PID/status shows a pending signal the process has not blocked."""
    masks = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line[:6] in (b"SigPnd", b"ShdPnd", b"SigBlk"):
                    masks[line[:6]] = int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return False
    pending = masks.get(b"SigPnd", 0) | masks.get(b"ShdPnd", 0)
    return bool(pending & ~masks.get(b"SigBlk", 0))


def decode_status(status: int) -> int | str:
    """A wait status as the summary shows it: an exit code, or the killing signal's name."""
    if os.WIFSIGNALED(status):
        return signal_name(os.WTERMSIG(status))
    return os.WEXITSTATUS(status)


def _become_worker(keep: set[int], log_path: str) -> None:
    """In a fresh fork: default signals, die with the runtime, private stdio, no stray fds."""
    reset_all_dispositions()
    if not die_with_parent(signal.SIGKILL):  # the runtime died before prctl took effect
        os._exit(1)
    try:  # below the runtime: it must keep its CPU however many of us are busy
        os.nice(WORKER_NICE)
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
