"""Signal bursts sent a slice at a time, so a burst of 100,000 never stalls the control loop.

A timeline, trigger or key action that sends `count` signals becomes a `SignalBurst`; the
runtime's loop sends from its bursts for at most `SLICE_BUDGET` seconds per iteration and
goes back to sampling, reaping and commands. What was sent is counted as it is sent, so a
burst the end of the run cuts short is reported as what really went out.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ipcviz.host.process import ProcessIdentity
from ipcviz.signals import is_realtime

#: Seconds of one loop iteration that sending may take before the loop does its other work.
SLICE_BUDGET = 0.004
#: Signals sent between two looks at the clock.
CLOCK_EVERY = 32


class _SigVal(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, _SigVal]


def sigqueue(pid: int, sig: int) -> None:
    """sigqueue(2): a real-time signal the kernel cannot queue fails with EAGAIN. (kill()
    of one when the user's queue, RLIMIT_SIGPENDING, is full "succeeds" and the signal
    coalesces: it would be counted as sent and never arrive.)"""
    if _libc.sigqueue(pid, sig, _SigVal(0)) != 0:
        err = ctypes.get_errno()
        if err == errno.ESRCH:
            raise ProcessLookupError(err, os.strerror(err))
        raise OSError(err, os.strerror(err))


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
    #: time.monotonic() read just before its first signal went out: the moment the burst's
    #: event is dated at, so "sent" is listed before the handler's "handled" it caused
    first_at: float | None = None
    #: a burst longer than one slice said "sending" when it began (then its "sent" line
    #: is dated when it ends: the handled lines of its first signals are shown before)
    announced: bool = False

    def send_some(self, sig: int, limit: int) -> bool:
        """Send up to `limit`; stop early when it is gone or its real-time queue is full
        (what is left goes in a later slice). True once it needs nothing more."""
        kill = self._killer(sig)
        if kill is None:
            self.gone = True
            return True
        if self.pidfd >= 0 and select.select([self.pidfd], [], [], 0)[0]:
            self.gone = True  # a pidfd is readable once its process has ended
            return True
        sent = 0
        if self.first_at is None:
            self.first_at = time.monotonic()
        try:
            for _ in range(min(limit, self.remaining)):
                kill(sig)
                sent += 1
        except ProcessLookupError:
            self.gone = True
        except OSError as exc:  # EAGAIN: the receiver's real-time queue is full
            if exc.errno != errno.EAGAIN:
                self.gone = True
        finally:
            if sent:
                self.sent += sent
                self.remaining -= sent
                self.on_sent(sent)
        return self.remaining == 0 or self.gone

    def _killer(self, sig: int) -> Callable[[int], None] | None:
        pid = self.ident.pid
        if not self.direct and self.pidfd < 0:
            try:
                self.pidfd = os.pidfd_open(pid)
            except OSError:
                return None
            if not self.ident.exists():  # the pid is someone else's now
                self.close()
                return None
        if is_realtime(sig):  # until its pidfd is readable the process has not ended, so
            return lambda s: sigqueue(pid, s)  # its pid is not anyone else's
        if self.direct:
            return lambda s: os.kill(pid, s)
        fd = self.pidfd
        return lambda s: signal.pidfd_send_signal(fd, s)

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
        """Round-robin over the targets, `CLOCK_EVERY` signals each per round, until the
        deadline (every target sees the storm at once); True once every one is done."""
        active = [t for t in self.targets if t.remaining > 0 and not t.gone]
        while active and time.monotonic() < deadline:
            active = [t for t in active if not t.send_some(self.sig, CLOCK_EVERY)]
        return not active

    def close(self) -> None:
        for target in self.targets:
            target.close()
