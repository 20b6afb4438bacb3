"""The signals sent to the runtime itself: counted (a scenario's `to: parent`), or a
request to stop the run (SIGTERM, SIGINT, SIGHUP).

Most arrive through the signalfd inbox (inbox.py), with their sender; the rest wake
the loop through the wakeup pipe, whose handlers only count. Nothing a sender does runs
code in the runtime.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Collection

from ipcviz.runtime.inbox import STOP_REQUESTS, SignalInbox, sent_by_a_process
from ipcviz.signals import SIGRTMAX, UNCATCHABLE

#: signals that end the run cleanly, seen on the wakeup pipe
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: left to their default action: a terminal's stop keys still suspend a headless run
_TERMINAL_STOPS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


class SignalIntake:
    """What the runtime receives: `received` counts by signal, `stop_requested` once a
    stop request came."""

    def __init__(self) -> None:
        self.received: Counter[int] = Counter()
        self.stop_requested = False
        self._wake_r = self._wake_w = -1
        self._inbox: SignalInbox | None = None

    def install(self) -> None:
        """Route the signals: the wakeup pipe, counting handlers, then the inbox."""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # Handlers stay for what the inbox does not take (and for a signal delivered to
        # another thread of a process that embeds the runtime): they only count.
        for num in range(1, SIGRTMAX + 1):
            if num in UNCATCHABLE or num in _TERMINAL_STOPS:
                continue
            try:
                signal.signal(num, _count_on_pipe)
            except (OSError, ValueError):
                pass
        self._inbox = SignalInbox()

    @property
    def fds(self) -> list[int]:
        """What the loop waits on for signals."""
        fds = [self._wake_r] if self._wake_r >= 0 else []
        return fds + ([self._inbox.fd] if self._inbox is not None else [])

    def drain(self, readable: Collection[int] | None = None) -> None:
        """Count what was sent; a stop request ends the run. A SIGCHLD counts only when a
        process sent it (not the kernel's, for a child that changed state).
        `readable`: the fds select() found readable (the others are not read: two failed
        reads a loop turn); None: both are read."""
        if self._inbox is not None and (readable is None or self._inbox.fd in readable):
            me = os.getpid()
            for num, code, sender in self._inbox.read():
                if num in STOP_REQUESTS:
                    self.stop_requested = True
                elif sent_by_a_process(code) and sender != me:
                    self.received[num] += 1
        if self._wake_r < 0 or (readable is not None and self._wake_r not in readable):
            return
        for _ in range(16):  # bounded, like the inbox: a flood waits for the next turn
            try:
                data = os.read(self._wake_r, 4096)
            except BlockingIOError:
                return
            if not data:
                return
            for num in data:
                if num in _STOP_SIGNALS:
                    self.stop_requested = True
                elif num != signal.SIGCHLD:
                    self.received[num] += 1

    def close(self) -> None:
        """Stop listening. Safe to call twice, or without `install`."""
        try:  # first: no handler may write to the wakeup pipe once it is closed
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = -1


def _count_on_pipe(signum: int, frame: object) -> None:
    """A handler that does nothing: the wakeup pipe carries the signal to `drain`."""
