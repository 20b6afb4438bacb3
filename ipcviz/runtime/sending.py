"""The runtime's signals to the workers and their children: each command's signals go
out as a burst, a slice per loop turn (bursts.py), and signals sent `interval` apart
wait in a queue until they are due, each logged with what really went out."""

from __future__ import annotations

import heapq
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ipcviz.runtime.bursts import SLICE_BUDGET, BurstTarget, SignalBurst
from ipcviz.runtime.children import SpawnedChildren
from ipcviz.runtime.forking import Workers
from ipcviz.runtime.procmasks import read_masks
from ipcviz.runtime.procs import Proc
from ipcviz.runtime.run_objects import Log, RunClock
from ipcviz.signals import signal_name


@dataclass(order=True, frozen=True)
class Spaced:
    """One signal of a command with an `interval`, waiting until it is due (run time)."""

    due: float
    seq: int
    to: str
    sig: int
    source: str
    interval: float
    #: when it was first due (it may be put back to keep the spacing)
    first: float


class SignalSender:
    """Sends the signals commands ask for, and says what went out."""

    def __init__(self, workers: Workers, children: SpawnedChildren, clock: RunClock,
                 log: Log, run_time: Callable[[], float]):
        self._workers = workers
        self._children = children
        self._clock = clock
        self._log = log
        self._run_time = run_time
        self._bursts: list[SignalBurst] = []
        self._spaced: list[Spaced] = []
        #: when the last of them went to each (target, signal), in run time
        self._spaced_sent: dict[tuple[str, int], float] = {}

    @property
    def busy(self) -> bool:
        """Signals of a burst are still to send: the loop comes straight back."""
        return bool(self._bursts)

    def next_spaced(self) -> float | None:
        """The run time the next spaced signal is due at, or None."""
        return self._spaced[0].due if self._spaced else None

    def send_spaced(self, to: str, sig: int, count: int, interval: float,
                    source: str) -> None:
        """`count` signals `interval` seconds of run time apart, the first now."""
        self._spaced_sent[(to, sig)] = self._run_time()
        self.send(to, sig, 1, source)
        for k in range(1, count):
            due = self._run_time() + k * interval
            heapq.heappush(self._spaced, Spaced(due, len(self._spaced) + k, to, sig, source,
                                                interval, due))

    def run_spaced(self, now: float) -> None:
        """Send the spaced signals due at run time `now`."""
        late: list[Spaced] = []
        while self._spaced and self._spaced[0].due <= now:
            entry = heapq.heappop(self._spaced)
            # Sent together (a busy runtime finding several due at once), or while the
            # last one still waits for a target not yet scheduled, a standard signal
            # merges with it, which "interval" promises it does not: keep the gap (for a
            # second at most: a stopped target keeps its signals pending).
            last = self._spaced_sent.get((entry.to, entry.sig))
            if last is not None and now - last < entry.interval / 2:
                late.append(_put_back(entry, last + entry.interval))
                continue
            if now - entry.first < 1.0 and self._undelivered(entry.to, entry.sig):
                late.append(_put_back(entry, now + entry.interval / 4))
                continue
            self._spaced_sent[(entry.to, entry.sig)] = now
            self.send(entry.to, entry.sig, 1, entry.source)
        for entry in late:
            heapq.heappush(self._spaced, entry)

    def _undelivered(self, to: str, sig: int) -> bool:
        """A standard signal still pending (and not blocked) at one of the targets: the
        last one sent has not reached its handler yet."""
        if sig >= signal.SIGRTMIN:
            return False
        name = signal_name(sig)
        for proc in self._workers.targets(to):
            if proc.alive and proc.ident is not None:
                masks = read_masks(proc.ident.pid) or {}
                pending = masks.get("pending", []) + masks.get("shared_pending", [])
                if name in pending and name not in masks.get("blocked", []):
                    return True
        return False

    def send(self, to: str, sig: int, count: int = 1, source: str = "key") -> int:
        """Signal every live worker `to` names, `count` times each, as a burst sent a slice
        per loop iteration (see bursts.py); returns how many went out at once."""
        burst = SignalBurst(sig, count, source)
        for kid in self._children.spawned():
            if to in (kid.name, kid.group) and kid.exit is None:
                counter = self._children.sent_to.setdefault(kid.row, Counter())
                burst.targets.append(BurstTarget(kid.name, kid.ident, False, count,
                                                 partial(_count_into, counter, sig)))
        for proc in self._workers.targets(to):
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
                                             partial(_sent_to_worker, proc, sig)))
        if not burst.targets:
            return 0
        self._bursts.append(burst)
        self.pump()
        return sum(t.sent for t in burst.targets)

    def pump(self, budget: float = SLICE_BUDGET) -> None:
        """Send from the pending bursts for at most `budget` seconds, oldest first."""
        deadline = time.monotonic() + budget
        while self._bursts and time.monotonic() < deadline:
            burst = self._bursts[0]
            if not burst.send_some(deadline):
                self._burst_begun(burst)
                return
            self._bursts.pop(0)
            self._burst_done(burst, cut=False)

    def cut(self) -> None:
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
                          at=target.first_at - self._clock.t0)

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
                target.first_at - self._clock.t0)
            self._log(target.name, text, "signal", at=at)


def _put_back(entry: Spaced, due: float) -> Spaced:
    """`entry` due again at `due` (keeping its place among those due at once)."""
    return Spaced(due, entry.seq, entry.to, entry.sig, entry.source, entry.interval,
                  entry.first)


def _count_into(counter: Counter[int], sig: int, count: int) -> None:
    counter[sig] += count


def _sent_to_worker(proc: Proc, sig: int, count: int) -> None:
    proc.sent_to[sig] += count
    proc.last_signal_from_us = sig
