"""Drive the real runtime process the way the UI does, without the UI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.source import LiveSource


class LiveRun:
    """A running scenario: the latest Snapshot, commands, and waiting for conditions."""

    def __init__(self, path: str):
        self.source = LiveSource(path)
        self.latest: Snapshot | None = None
        self.errors: list[str] = []
        self.events: list = []
        self._changed = threading.Condition()

    def __enter__(self) -> LiveRun:
        self.source.start(self._on_snapshot, self.errors.extend)
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.stop()

    def _on_snapshot(self, snap: Snapshot) -> None:
        with self._changed:
            self.latest = snap
            self.events.extend(snap.events)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0) -> Snapshot:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.latest is None or not predicate(self.latest):
                assert not self.errors, self.errors
                left = deadline - time.monotonic()
                assert left > 0, f"condition not reached; last snapshot: {self.latest}"
                self._changed.wait(left)
            return self.latest

    def action(self, action: str, arg: object) -> None:
        from ipcviz.protocol import decode

        self.source.send(decode({"cmd": "action", "action": action, "arg": arg}))

    def signal(self, to: str, sig: int | str, count: int = 1) -> None:
        from ipcviz.signals import parse_signal

        self.action("signal", {"to": to, "sig": parse_signal(sig), "count": count})
