"""What the runtime does on command: signals (sent in bursts), kill/stop/cont, restart,
pause, lock use; and the scenario's timeline (a mixin of Runtime)."""

from __future__ import annotations

import heapq
import signal
import time
from collections import Counter

from ipcviz.protocol import (
    Command,
    Cont,
    FireTrigger,
    Kill,
    PauseRun,
    PauseSteps,
    Restart,
    ResumeRun,
    ResumeSteps,
    SendSignal,
    SetLock,
    SetSpeed,
    StepAll,
    StepWorker,
    Stop,
    from_scenario,
)
from ipcviz.runtime.bursts import SLICE_BUDGET, BurstTarget, SignalBurst
from ipcviz.runtime.procs import Proc
from ipcviz.format import speed_text
from ipcviz.runtime.procmasks import read_masks
from ipcviz.signals import signal_name
from ipcviz.telemetry import table as T


class Actions:
    """Mixin of `Runtime`: commands, the timeline, signal bursts."""

    def _timeline_ready(self, now: float) -> bool:
        """Whether the timeline runs: every program with `ready:` has printed its line (or
        ended without it: then there is nothing to wait for)."""
        waits = self._timeline_waits
        if not waits:
            return True
        alive = {p.name for p in self.procs if p.alive}
        if not waits <= alive:  # one has ended: its last lines may still be in the pipe
            self.programs.drain()
        for name in sorted(waits):
            if name in self.programs.ready:
                waits.discard(name)
            elif name not in alive and any(p.name == name and p.started_once
                                           for p in self.procs):
                waits.discard(name)
                self._log(name, f"ended before printing {self.programs.ready_text[name]!r}",
                          "runtime")
        if not waits:
            self._timeline_base = now
            if self._timeline:
                self._log("runtime", f"ready: the timeline starts (its times count from "
                                     f"{now:.2f} s)", "runtime")
        return not waits

    def _run_due(self) -> None:
        now = self.run_time
        ready = self._timeline_ready(now)
        while ready and self._next_event < len(self._timeline) and \
                self._timeline[self._next_event].at + self._timeline_base <= now:
            event = self._timeline[self._next_event]
            self._next_event += 1
            self.execute(from_scenario(event), source="timeline")
        late: list[tuple[float, int, str, int, str, float, float]] = []
        while self._spaced and self._spaced[0][0] <= now:
            due, seq, to, sig, source, interval, first = heapq.heappop(self._spaced)
            # Sent together (a busy runtime finding several due at once), or while the
            # last one still waits for a target not yet scheduled, a standard signal
            # merges with it, which "interval" promises it does not: keep the gap (for a
            # second at most: a stopped target keeps its signals pending).
            last = self._spaced_sent.get((to, sig))
            if last is not None and now - last < interval / 2:
                late.append((last + interval, seq, to, sig, source, interval, first))
                continue
            if now - first < 1.0 and self._undelivered(to, sig):
                late.append((now + interval / 4, seq, to, sig, source, interval, first))
                continue
            self._spaced_sent[(to, sig)] = now
            self.send_signal(to, sig, 1, source)
        for entry in late:
            heapq.heappush(self._spaced, entry)
        for proc in self.procs:
            if proc.restart_at is not None and proc.restart_at <= now and not proc.alive:
                proc.restart_at = None
                self._fork(proc)
                self._release_unneeded()

    def execute(self, command: Command, source: str = "key") -> None:
        """A UI command, a trigger or a timeline entry (protocol.py), by its type."""
        handler = _HANDLERS.get(type(command))
        if handler is not None:
            handler(self, command, source)

    def _send_command(self, command: SendSignal, source: str) -> None:
        if command.interval and command.count > 1:
            self._spaced_sent[(command.to, command.sig)] = self.run_time
            self.send_signal(command.to, command.sig, 1, source)
            for k in range(1, command.count):
                due = self.run_time + k * command.interval
                heapq.heappush(self._spaced, (due, len(self._spaced) + k, command.to,
                                              command.sig, source, command.interval, due))
        else:
            self.send_signal(command.to, command.sig, command.count, source)

    def _kill_stop_cont(self, command: Kill | Stop | Cont, source: str) -> None:
        sig = {Kill: signal.SIGKILL, Stop: signal.SIGSTOP, Cont: signal.SIGCONT}[type(command)]
        self.send_signal(command.to, int(sig), 1, source)

    def _restart_command(self, command: Restart, source: str) -> None:
        for proc in self._targets(command.worker):
            self.restart(proc)

    def _pause_command(self, command: PauseSteps | ResumeSteps, source: str) -> None:
        pause = isinstance(command, PauseSteps)
        for proc in self._targets(command.worker):
            when = self.elapsed  # before the worker can act on it: the cause comes first
            self._control_bit(proc, T.CTRL_PAUSE, T.PAUSE_WORKER, pause)
            self._log(proc.name, "steps paused" if pause else "steps resumed", "runtime",
                      at=when)

    def _lock_command(self, command: SetLock, source: str) -> None:
        for proc in self._targets(command.worker):
            when = self.elapsed
            self._control(proc, T.CTRL_LOCK_OFF, 0 if command.enabled else 1)
            self._log(proc.name, f"lock use {'on' if command.enabled else 'OFF'}", "runtime",
                      at=when)

    def _time_command(self, command: PauseRun | ResumeRun | StepAll | StepWorker | SetSpeed,
                      source: str) -> None:
        """Run-wide time control, through the scheduler (scheduler.py)."""
        sched = self.scheduler
        when = self.elapsed  # dated before the workers can act on it
        if isinstance(command, PauseRun):
            sched.pause()
            self._log("runtime", "run paused", "runtime", at=when)
        elif isinstance(command, ResumeRun):
            sched.resume()
            self._log("runtime", "run resumed", "runtime", at=when)
        elif isinstance(command, StepAll):
            sched.step_all()
        elif isinstance(command, StepWorker):
            if not sched.step(command.worker):
                self._log(command.worker, "cannot take a step now", "runtime")
        else:
            sched.set_speed(command.factor)
            self._log("runtime", f"speed {speed_text(command.factor) or '×1'}", "runtime",
                      at=when)

    def _trigger_command(self, command: FireTrigger, source: str) -> None:
        trigger = self._triggers.get(command.key)
        if trigger is not None:
            self.execute(trigger, "trigger")

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

    def _undelivered(self, to: str, sig: int) -> bool:
        """A standard signal still pending (and not blocked) at one of the targets: the
        last one sent has not reached its handler yet."""
        if sig >= signal.SIGRTMIN:
            return False
        name = signal_name(sig)
        for proc in self._targets(to):
            if proc.alive and proc.ident is not None:
                masks = read_masks(proc.ident.pid) or {}
                pending = masks.get("pending", []) + masks.get("shared_pending", [])
                if name in pending and name not in masks.get("blocked", []):
                    return True
        return False

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
            attach = proc.instance.definition.attach
            if attach is not None and not attach.signals:  # watch --pid: observed only
                self._log(proc.name, f"{signal_name(sig)} not sent: this process is only "
                                     "observed (watch --allow-signals lets ipcviz signal it)",
                          "runtime")
                continue
            # a watched process is no child of ours: its pid could be recycled between
            # two slices of a burst, so it goes through a pidfd checked like a grandchild
            burst.targets.append(BurstTarget(proc.name, proc.ident, attach is None, count,
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
                self._burst_begun(burst)
                return
            self._bursts.pop(0)
            self._burst_done(burst, cut=False)

    def cut_bursts(self) -> None:
        """The run is ending: what is still to send is not sent; say so truthfully."""
        bursts, self._bursts = self._bursts, []
        for burst in bursts:
            self._burst_done(burst, cut=True)

    def _burst_begun(self, burst: SignalBurst) -> None:
        """A burst that takes more than one slice: its first signals may be handled (and
        logged) before it ends, so its beginning is a line of its own, dated then."""
        for target in burst.targets:
            if target.sent and not target.announced and target.first_at is not None:
                target.announced = True
                self._log(target.name, f"{burst.source}: sending {signal_name(burst.sig)} "
                                       f"×{burst.count}", "signal",
                          at=target.first_at - self.t0)

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
            # dated when its first signal went out, not now: the target's handler may
            # have run (and logged) in between, and a cause is listed before its effects
            at = None if target.first_at is None or target.announced else (
                target.first_at - self.t0)
            self._log(target.name, text, "signal", at=at)


#: command type -> what the runtime does (Quit is the session's: the input ends)
_HANDLERS = {
    SendSignal: Actions._send_command, Kill: Actions._kill_stop_cont,
    Stop: Actions._kill_stop_cont, Cont: Actions._kill_stop_cont,
    Restart: Actions._restart_command, PauseSteps: Actions._pause_command,
    ResumeSteps: Actions._pause_command, SetLock: Actions._lock_command,
    FireTrigger: Actions._trigger_command,
    PauseRun: Actions._time_command, ResumeRun: Actions._time_command,
    StepAll: Actions._time_command, StepWorker: Actions._time_command,
    SetSpeed: Actions._time_command,
}
