"""Signal bursts sent a slice at a time, so a burst of 100,000 never stalls the control loop.

A timeline, trigger or key action that sends `count` signals becomes a `SignalBurst`; the
runtime's loop sends from its bursts for at most `SLICE_BUDGET` seconds per iteration and
goes back to sampling, reaping and commands. What was sent is counted as it is sent, so a
burst the end of the run cuts short is reported as what really went out.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ipcviz.runtime.ident import ProcessIdentity

#: Seconds of one loop iteration that sending may take before the loop does its other work.
SLICE_BUDGET = 0.004
#: Signals sent between two looks at the clock.
CLOCK_EVERY = 32


@dataclass
class BurstTarget:
    """One process of a burst: how many are still to go and how many went out."""

    name: str
    #: a worker (our own child, not yet reaped: its pid cannot be recycled) sends by pid;
    #: a spawned child (a grandchild) through a pidfd checked against its start time
    ident: ProcessIdentity
    direct: bool
    remaining: int
    on_sent: Callable[[int], None]
    sent: int = 0
    pidfd: int = -1
    gone: bool = False

    def send_some(self, sig: int, deadline: float) -> bool:
        """Send until done, gone, the kernel's queue is full, or the deadline; True if done."""
        kill = self._killer()
        if kill is None:
            self.gone = True
            return True
        sent = 0
        try:
            while self.remaining > 0:
                batch = min(self.remaining, CLOCK_EVERY)
                for _ in range(batch):
                    kill(sig)
                    sent += 1
                    self.remaining -= 1
                if time.monotonic() >= deadline:
                    break
        except ProcessLookupError:
            self.gone = True
        except OSError as exc:  # EAGAIN: the receiver's real-time queue is full; next slice
            if exc.errno != errno.EAGAIN:
                self.gone = True
        finally:
            if sent:
                self.sent += sent
                self.on_sent(sent)
        return self.remaining == 0 or self.gone

    def _killer(self) -> Callable[[int], None] | None:
        if self.direct:
            pid = self.ident.pid
            return lambda sig: os.kill(pid, sig)
        if self.pidfd < 0:
            try:
                self.pidfd = os.pidfd_open(self.ident.pid)
            except OSError:
                return None
            if not self.ident.exists():  # the pid is someone else's now
                self.close()
                return None
        fd = self.pidfd
        return lambda sig: signal.pidfd_send_signal(fd, sig)

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


@dataclass
class SignalBurst:
    """`count` signals `sig` to each target, from `source` (timeline, trigger, key)."""

    sig: int
    count: int
    source: str
    targets: list[BurstTarget] = field(default_factory=list)

    def send_some(self, deadline: float) -> bool:
        """Advance every target in turn until the deadline; True once every one is done."""
        for target in self.targets:
            if target.remaining > 0 and not target.gone:
                target.send_some(self.sig, deadline)
                if time.monotonic() >= deadline:
                    break
        return all(t.remaining == 0 or t.gone for t in self.targets)

    def close(self) -> None:
        for target in self.targets:
            target.close()
