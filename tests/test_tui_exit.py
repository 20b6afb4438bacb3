"""Every way out of the app ends the run: the runtime is asked to stop, killed when it
cannot (SIGSTOPped, flooded), and its run swept. Real runtime, real processes, real
objects; the nothing_left_behind fixture checks that nothing stays."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from tests.conftest import ROOT

#: a run with something of every place a run keeps things: /dev/shm (array, semaphore),
#: the mqueue file system, and the run directory (FIFO)
OBJECTS = """
name: objects everywhere
duration: 60
channels:
  counter: {kind: shared_array, dtype: int64, shape: [4]}
  mutex: {kind: semaphore, value: 1}
  box: {kind: mqueue, capacity: 4}
  tube: {kind: fifo}
workers:
  adder:
    loop: true
    steps:
      - increment: {array: counter, index: 0, lock: mutex}
      - sleep: 0.01
  poster:
    loop: true
    steps:
      - send: {to: box, data: "m"}
      - receive: {from: box}
      - write: {to: tube, data: "x"}
      - read: {from: tube, bytes: 1}
      - sleep: 0.01
"""


async def wait_for(pilot, predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def started(app) -> bool:
    return app.latest is not None and all(
        w.pid and w.state != "starting" for w in app.latest.workers)


def run_dirs() -> list[Path]:
    root = Path(os.environ["IPCVIZ_RUN_ROOT"])
    return list(root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_quit_with_the_runtime_stopped_kills_it_and_sweeps_its_run(
        scenario_file, nothing_left_behind, key) -> None:
    source = LiveSource(str(scenario_file(OBJECTS)))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: started(app))
            runtime_pid = source.proc.pid
            run_dir = next(d for d in run_dirs() if d.name.startswith(f"{runtime_pid}-"))
            os.kill(runtime_pid, signal.SIGSTOP)
            await pilot.press(key)
        assert source.proc is None
        assert not psutil.pid_exists(runtime_pid) or \
            psutil.Process(runtime_pid).status() == psutil.STATUS_ZOMBIE
        assert not run_dir.exists()
        # the runtime never got to clean up: the UI's sweep removed its objects
        assert any("shm" in item or "semaphore" in item for item in source.swept), source.swept
        assert f"run directory {run_dir}" in source.swept

    asyncio.run(scenario())


def test_q_right_after_a_huge_burst_ends_the_run_cleanly(scenario_file,
                                                         nothing_left_behind) -> None:
    """A trigger that sends 8 x 100,000 signals: the runtime stays responsive, obeys `q`
    and cleans up itself."""
    text = OBJECTS + """
  target: {count: 8, handlers: {SIGUSR1: count}}
triggers:
  - {key: x, label: "storm", signal: {to: target, sig: SIGUSR1, count: 100000}}
"""
    source = LiveSource(str(scenario_file(text)))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: started(app))
            await pilot.press("x")
            await wait_for(pilot, lambda: any(
                w.signals_sent_to.get("SIGUSR1") for w in app.latest.workers))
            await pilot.press("q")
        assert source.proc is None
        assert source.leaks == {"processes": 0, "ipc_objects": 0, "details": []}

    asyncio.run(scenario())


def test_a_crash_in_the_app_still_stops_and_sweeps_the_run(scenario_file,
                                                           nothing_left_behind) -> None:
    source = LiveSource(str(scenario_file(OBJECTS)))

    async def scenario() -> None:
        app = make_app(source=source)

        def broken() -> None:
            raise RuntimeError("a bug in the app")

        app.action_help = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match="a bug in the app"):
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: started(app))
                os.kill(source.proc.pid, signal.SIGSTOP)
                await pilot.press("question_mark")
                await pilot.pause(0.5)
        assert app.return_code == 1
        assert source.proc is None

    asyncio.run(scenario())


# ------------------------------------------------------------ the real CLI in a terminal


class Terminal:
    """`python -m ipcviz ARGS` on a pseudo-terminal of 120x40, its output drained."""

    def __init__(self, *args: str):
        import fcntl
        import pty
        import struct
        import subprocess
        import sys
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.proc = subprocess.Popen([sys.executable, "-m", "ipcviz", *args], cwd=ROOT,
                                     stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def runtime(self, timeout: float = 20.0) -> psutil.Process:
        """The runtime process, once it has forked its workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in psutil.Process(self.proc.pid).children():
                if "ipcviz.runtime" in " ".join(child.cmdline()) and child.children():
                    return child
            time.sleep(0.05)
        raise AssertionError("no runtime with workers appeared")

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(2)
            os.close(self.master)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_to_the_ui_with_the_runtime_stopped_leaves_nothing(
        scenario_file, nothing_left_behind, sig) -> None:
    term = Terminal("launch", str(scenario_file(OBJECTS)))
    runtime = term.runtime()
    time.sleep(1.0)  # the app is up and showing frames
    runtime.suspend()  # SIGSTOP
    term.proc.send_signal(sig)
    assert term.wait() == 128 + sig
    assert not runtime.is_running() or runtime.status() == psutil.STATUS_ZOMBIE
    assert run_dirs() == []


def test_a_crash_of_the_app_exits_non_zero(tmp_path, nothing_left_behind) -> None:
    """A recording whose numbers are not numbers makes a panel raise: the app reports the
    crash and the exit status says so (it was 0)."""
    recording = ROOT / "tests" / "recordings" / "deadlock.jsonl"
    frame = json.loads(recording.read_text().splitlines()[0])
    frame["workers"][0]["cpu"] = "not a number"
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(frame) + "\n")
    term = Terminal("replay", str(broken))
    status = term.wait()
    assert status != 0
    assert b"not a number" in term.output or b"Error" in term.output
