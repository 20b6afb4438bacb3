"""A channel kind is one module: this file defines a kind ipcviz does not have, an
eventfd counter (os.eventfd), registers it through $IPCVIZ_CHANNEL_KINDS, and runs it for
real: the loader accepts a scenario that uses it, a headless run counts it exactly, the
kernel's own count is in the JSON summary, and the pipes panel shows it. No other file
of ipcviz knows the kind (docs/adding-a-channel-kind.md walks through the same).

The kind: a write of N bytes adds N to the counter (eventfd_write), a read takes one
unit (EFD_SEMAPHORE: eventfd_read returns 1 and subtracts 1), shown as one byte read;
what is left is the kernel's count, read from the runtime's own /proc/self/fdinfo.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any, Literal

from ipcviz.channels.base import Channel
from ipcviz.scenario.fields import Model
from ipcviz.scenario.kinds import KINDS_ENV, ChannelKind, register_channel

KIND = "eventfd"
#: the largest value an eventfd counter holds (eventfd(2))
MOST = 0xFFFFFFFFFFFFFFFE


class EventfdOptions(Model):
    """The kind's entry under `channels:`: no options."""

    kind: Literal["eventfd"]


class EventfdEndpoint:
    """write_some/read_some as the stream steps call them, on the inherited descriptor."""

    def __init__(self, fd: int):
        self.fd = fd
        self._in = select.poll()
        self._in.register(fd, select.POLLIN)

    def write_some(self, view: memoryview) -> int:
        os.eventfd_write(self.fd, len(view))
        return len(view)

    def wait_writable(self, timeout_ms: int | None = None) -> None:
        time.sleep(0.01)  # (a write never waits unless the counter is near 2**64)

    def read_some(self, nbytes: int) -> bytes | None:
        try:
            return bytes([os.eventfd_read(self.fd)])
        except BlockingIOError:
            return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        self._in.poll(timeout_ms)


class EventfdChannel(Channel):
    """One eventfd of the runtime, inherited by the workers that use it."""

    kind = KIND
    # its state is the stream family's (StreamState): the kernel's count is `buffered`,
    # so written - read = the count is the stream relation, checked on every frame

    def create(self) -> None:
        self.fd = os.eventfd(0, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)

    def child_fds(self, roles: set[str]) -> set[int]:
        return {self.fd}

    def attach(self, roles: set[str]) -> EventfdEndpoint:
        return EventfdEndpoint(self.fd)

    def observe(self) -> dict:
        """The kernel's count (fdinfo's eventfd-count, in hex)."""
        with open(f"/proc/self/fdinfo/{self.fd}") as info:
            count = next(int(line.split()[1], 16) for line in info
                         if line.startswith("eventfd-count:"))
        return {"buffered": count, "capacity": MOST}

    def close(self) -> None:
        os.close(self.fd)


ROW = ChannelKind(EventfdOptions, f"{__name__}:EventfdChannel", "bytes", "stream",
                  "write/read", label="eventfd counter", descriptors=1,
                  keys=frozenset({"bytes_written", "bytes_read", "buffered"}),
                  data={"bytes_written": int, "bytes_read": int, "buffered": int,
                        "capacity": int})

if __name__ in os.environ.get(KINDS_ENV, "").split(","):  # imported as the kind's module
    register_channel(KIND, ROW)

SCENARIO = """\
version: 1
name: An eventfd counter
duration: 30
channels:
  ev: {kind: eventfd}
workers:
  poster:
    steps:
      - write: {to: ev, size: 5}
      - write: {to: ev, size: 5}
      - write: {to: ev, size: 5}
  taker:
    steps:
      - sleep: 0.3
      - read: {from: ev}
      - read: {from: ev}
      - read: {from: ev}
      - read: {from: ev}
      - sleep: 1.5
expect:
  - {channel: ev, bytes_written: 15, bytes_read: 4, buffered: 11}
"""


def _env() -> dict[str, str]:
    return {**os.environ, KINDS_ENV: __name__}


def _cli(*args: str) -> Any:
    import subprocess
    import sys

    from .conftest import ROOT

    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=_env())


def test_without_its_module_the_kind_is_unknown(scenario_file) -> None:
    """The kind is nowhere in ipcviz: without $IPCVIZ_CHANNEL_KINDS the loader refuses it."""
    from .conftest import run_cli

    result = run_cli("validate", str(scenario_file(SCENARIO)))
    assert result.returncode == 2
    assert "unknown kind 'eventfd'" in result.stdout + result.stderr


def test_a_kind_defined_here_validates_runs_and_counts(nothing_left_behind,
                                                       scenario_file) -> None:
    """Registered from this module only: 3 writes of 5 add 15, 4 reads take 4, and the
    kernel's count is the 11 left; every check passes and nothing is left behind."""
    path = str(scenario_file(SCENARIO))
    assert _cli("validate", path).returncode == 0
    result = _cli("run", path, "--headless", "--json", "--check")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    ev = summary["channels"]["ev"]
    assert (ev["kind"], ev["bytes_written"], ev["bytes_read"], ev["buffered"]) == (
        KIND, 15, 4, 11)
    assert summary["workers"]["poster"]["bytes_written"] == {"ev": 15}
    assert summary["workers"]["taker"]["bytes_read"] == {"ev": 4}
    assert [r for r in summary["expect"] if not r["ok"]] == []
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_the_pipes_panel_shows_the_kind(nothing_left_behind, scenario_file, tmp_path
                                        ) -> None:
    """A picture of the live screen (`ipcviz screenshot`) has the kind's row in the pipes
    panel: its name and kind, 15 B written and 4 B read, 11 B in the kernel."""
    out = tmp_path / "shot.svg"
    result = _cli("screenshot", str(scenario_file(SCENARIO)), "--at", "1", "-o", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    text = " ".join(out.read_text().replace("&#160;", " ").split())
    for words in ("ev (eventfd)", "15 B / 4 B", "11 B"):
        assert words in text, words


def test_a_kinds_module_that_cannot_be_imported_is_one_line(scenario_file) -> None:
    """$IPCVIZ_CHANNEL_KINDS naming no module: one line saying so, status 2, no traceback."""
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run([sys.executable, "-m", "ipcviz", "validate",
                             str(scenario_file(SCENARIO))], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env={**os.environ, KINDS_ENV: "no_such_kinds"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ipcviz: {KINDS_ENV} names 'no_such_kinds', which cannot be imported (No module "
        "named 'no_such_kinds')"]
