"""Every way out of the app ends the run: the runtime is asked to stop, killed when it
cannot (SIGSTOPped, flooded), and its run swept. Real runtime, real processes, real
objects; the nothing_left_behind fixture checks that nothing stays."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from tests.conftest import ROOT
from tests.terminal import Terminal
from tests.waiting import until

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
            await until(pilot, lambda: started(app), message="every worker started")
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
            await until(pilot, lambda: started(app), message="every worker started")
            await pilot.press("x")
            await until(pilot, lambda: any(
                w.signals_sent_to.get("SIGUSR1") for w in app.latest.workers),
                message="the storm's first signals sent")
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
                await until(pilot, lambda: started(app), message="every worker started")
                os.kill(source.proc.pid, signal.SIGSTOP)
                await pilot.press("question_mark")
                await until(pilot, lambda: app.return_code is not None,
                            message="the app to end on its crash")
        assert app.return_code == 1
        assert source.proc is None

    asyncio.run(scenario())


# ------------------------------------------------------------ the real CLI in a terminal


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_to_the_ui_with_the_runtime_stopped_leaves_nothing(
        scenario_file, nothing_left_behind, sig) -> None:
    with Terminal("launch", str(scenario_file(OBJECTS))) as term:
        runtime = term.runtime()
        term.wait_for_output(b"workers alive")  # the app is up and showing frames
        runtime.suspend()  # SIGSTOP
        term.proc.send_signal(sig)
        assert term.wait() == 128 + sig
    assert not runtime.is_running() or runtime.status() == psutil.STATUS_ZOMBIE
    assert run_dirs() == []


def test_a_crash_of_the_app_exits_non_zero(tmp_path, nothing_left_behind) -> None:
    """A panel that raises while drawing a good recording: the app reports the crash and
    the exit status says so (it was 0). A recording can no longer make a panel raise (it
    is checked when read), so the panel is broken on purpose in the app's process."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import ipcviz.tui.widgets.workers as table\n"
        "def render_line(self, y):\n"
        "    raise RuntimeError('panel broken on purpose')\n"
        "table.WorkersTable.render_line = render_line\n")
    env = dict(os.environ, PYTHONPATH=f"{hook}{os.pathsep}{ROOT}")
    term = Terminal("replay", str(ROOT / "tests" / "recordings" / "deadlock.jsonl"), env=env)
    status = term.wait()
    assert status != 0
    assert b"panel broken on purpose" in term.output
