"""SIGTERM and SIGHUP end the app the way `q` does (the CLI's app; a test's event loop
keeps its own handlers): the run is stopped and swept before the UI goes, and the exit
status says which signal."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable

#: after SIGTERM/SIGHUP, seconds the app's shutdown may take before the process just ends
EXIT_GRACE = 5.0


class ExitSignals:
    """The handlers of SIGTERM and SIGHUP on the running event loop, while installed."""

    def __init__(self, stop_run: Callable[[], None], exit_app: Callable[[int], None]) -> None:
        #: stops the run and sweeps what it left
        self.stop_run = stop_run
        #: ends the App with this return code
        self.exit_app = exit_app
        self._installed: list[int] = []

    def install(self) -> None:
        """A terminal closed (SIGHUP) or a `kill` (SIGTERM) quits like `q`."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._signalled, int(sig))
            self._installed.append(int(sig))

    def remove(self) -> None:
        if self._installed:
            loop = asyncio.get_running_loop()
            for sig in self._installed:
                loop.remove_signal_handler(sig)
            self._installed = []

    def _signalled(self, sig: int) -> None:
        self.stop_run()
        # The terminal may be gone (SIGHUP): Textual's own shutdown then writes to a
        # hung-up tty and, rarely, never returns (every thread waiting on a lock). The run
        # is already stopped and swept; the process ends anyway.
        watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(128 + sig,))
        watchdog.daemon = True
        watchdog.start()
        self.exit_app(128 + sig)
