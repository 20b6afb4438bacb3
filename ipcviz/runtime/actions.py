"""What the runtime does on command: signals (sent in bursts), kill/stop/cont, restart,
pause, lock use; and the scenario's timeline (a mixin of Runtime)."""

from __future__ import annotations

import heapq
import signal
import time
from collections import Counter

from ipcviz.runtime.bursts import SLICE_BUDGET, BurstTarget, SignalBurst
from ipcviz.runtime.procs import Proc
from ipcviz.scenario import schema
from ipcviz.signals import signal_name
from ipcviz.telemetry import table as T


class Actions:
    """Mixin of `Runtime`: commands, the timeline, signal bursts."""

    def _run_due(self) -> None:
        now = self.elapsed
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

    def run_action(self, action: str, arg: object, source: str = "key") -> None:
        """A timeline, trigger or UI action (see docs/scenario-format.md)."""
        if action == "signal":
            assert isinstance(arg, schema.SignalArgs)
            if arg.interval and arg.count > 1:
                self.send_signal(arg.to, arg.sig, 1, source)
                for k in range(1, arg.count):
                    heapq.heappush(self._spaced, (self.elapsed + k * arg.interval,
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
                self._control(proc, T.CTRL_PAUSE, 1 if action == "pause_steps" else 0)
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
