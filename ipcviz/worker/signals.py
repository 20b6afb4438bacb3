"""Signal handling inside a worker, counted exactly.

CPython's C-level handler runs once per delivery but may run the Python handler
only once for several deliveries of the same signal. The C handler also writes
one byte (the signal number) to the wakeup fd per delivery, so the worker counts
those bytes: one per delivery the kernel made, never more, never fewer.
"""

from __future__ import annotations

import fcntl
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ipcviz.signals import SIGRTMAX, UNCATCHABLE
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode
from ipcviz.worker import sigaction


#: bytes of the wakeup pipe: above RLIMIT_SIGPENDING's usual values (one byte a delivery)
WAKEUP_PIPE_SIZE = 1 << 20


class ExitRequested(BaseException):
    """Raised (only at a safe point) when a handler with action `exit` ran."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class SignalArrived(BaseException):
    """Raised inside `wait_signal` when the awaited signal has been counted."""


def reset_all_dispositions() -> None:
    """A forked worker starts with every signal at its default (Python sets SIGINT/SIGPIPE)."""
    signal.set_wakeup_fd(-1)
    for num in range(1, SIGRTMAX + 1):
        if num in UNCATCHABLE:
            continue
        try:
            signal.signal(num, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # 32 and 33 belong to the C library


class Emit(Protocol):
    """How the counter logs a handled signal: the row's `emit`."""

    def __call__(self, code: EventCode, channel: int = -1, t_ns: int = 0, **values: int
                 ) -> None: ...


class SignalCounter:
    """Installs a worker's handlers and counts every delivery in its telemetry row."""

    def __init__(self, cells: memoryview, base: int, handlers: dict[int, str],
                 emit: Emit):
        self.cells = cells
        self.base = base
        self.handlers = handlers
        self.emit = emit
        self.waiting = False  # True while the worker sleeps/polls with nothing half-counted
        self.awaited: int | None = None
        self.exit_code: int | None = None
        self.reap: Callable[[], None] = lambda: None
        #: signal -> the sigaction flags `sa_flags:` gives its handler
        self.sa_flags: dict[int, list[str]] = {}
        # SIGCONTs of the runtime's own passed over so far (a restarted worker's row may
        # hold those of the process before it)
        self._quiet_conts = cells[base + T.CTRL_QUIET_CONT]
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        try:  # room for every queued real-time signal delivered back to back (the C handler
            # runs per delivery before any Python does; a full pipe would drop counts)
            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, WAKEUP_PIPE_SIZE)
        except OSError:
            pass  # over the user's pipe allowance: the default 64 KiB

    def install(self, blocked: list[int],
                sa_flags: Mapping[int, Sequence[str]] | None = None) -> None:
        """Every handler of `handlers:` in place (with its sigaction flags), then the
        mask the scenario asks for."""
        self.sa_flags = {num: list(flags) for num, flags in (sa_flags or {}).items()}
        signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for num in self.handlers:
            self.restore(num)
        # The process was forked with every signal blocked; from here on only `blocked` is.
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def restore(self, num: int) -> None:
        """Give `num` the action `handlers:` names (a catching one with its `sa_flags:`,
        set in the kernel by sigaction.py); SIG_DFL when it names none."""
        action = self.handlers.get(num, "default")
        if action == "ignore":
            signal.signal(num, signal.SIG_IGN)
        elif action == "default":
            signal.signal(num, signal.SIG_DFL)
        else:
            signal.signal(num, self._on_signal)
            flags = self.sa_flags.get(num)
            if flags:
                sigaction.set_flags(num, sigaction.flag_bits(flags))

    def total(self) -> int:
        """Deliveries counted so far, every signal together (after a `drain`)."""
        start = self.base + T.SIG_RECEIVED
        return sum(self.cells[start:start + SIGRTMAX + 1])

    def _on_signal(self, signum: int, frame: object) -> None:
        self.drain()
        if self.exit_code is not None and self.waiting:
            raise ExitRequested(self.exit_code)

    def drain(self) -> None:
        """Count every byte the C handler wrote; run each delivery's action."""
        arrived = False
        while True:
            try:
                data = os.read(self._read_fd, 4096)
            except BlockingIOError:
                break
            if not data:
                break
            for num in data:
                if num == signal.SIGCONT and self._quiet_cont():
                    continue
                self.cells[self.base + T.SIG_RECEIVED + num] += 1
                action = self.handlers.get(num, "count")
                if action == "log":
                    self.emit(EventCode.SIGNAL, signal=num, reason=1)
                elif action == "exit":
                    self.emit(EventCode.SIGNAL, signal=num, reason=2)
                    self.exit_code = 0
                elif action == "reap":
                    self.reap()
                if self.awaited == num:
                    arrived = True
        if arrived and self.waiting:
            self.awaited = None
            raise SignalArrived()

    def _quiet_cont(self) -> bool:
        """Is this SIGCONT one the runtime sent only to wake a stopped worker for a final
        reading (T.CTRL_QUIET_CONT counts those)? Then it is not the scenario's to count."""
        if self.cells[self.base + T.CTRL_QUIET_CONT] > self._quiet_conts:
            self._quiet_conts += 1
            return True
        return False

    def close(self) -> None:
        """In a spawned child: drop the spawner's wakeup pipe before making its own."""
        signal.set_wakeup_fd(-1)
        for fd in (self._read_fd, self._write_fd):
            os.close(fd)

    def check_exit(self) -> None:
        """Called between steps: leave now if an `exit` handler ran."""
        if self.exit_code is not None:
            raise ExitRequested(self.exit_code)

    def count(self, num: int) -> int:
        return self.cells[self.base + T.SIG_RECEIVED + num]
