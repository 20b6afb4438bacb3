"""Nothing is left behind, however a run ends (issue: reliability and safety)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipcviz.host.process import ProcessIdentity

from .conftest import ROOT, ipcviz_shm_entries, run_cli, run_scenario
from .live import LiveRun
from .terminal import Terminal
from .waiting import until, wait_until

EVERY_KIND = Path(__file__).parent / "scenarios" / "every_kind.yaml"


def run_root() -> Path:
    return Path(os.environ["IPCVIZ_RUN_ROOT"])


def live_run_dirs() -> list[Path]:
    return [p for p in run_root().iterdir() if (p / "processes").exists()]


def run_started(workers: int = 3) -> bool:
    """A run directory lists `workers` started processes."""
    return any(len((d / "processes").read_text().split()) >= 2 * workers
               for d in live_run_dirs())


def wait_running(term: Terminal) -> None:
    """The run has started and the app is on screen (keys typed before the app puts the
    terminal in raw mode are the terminal's, not the app's)."""
    wait_until(run_started, message="the run to start")
    term.wait_for_output(b"workers alive")


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_tui_ends_and_leaves_nothing(how, nothing_left_behind) -> None:
    with Terminal("launch", str(EVERY_KIND)) as tui:
        wait_running(tui)
        assert ipcviz_shm_entries(), "the run should have shared memory while it runs"
        if how == "q":
            tui.type(b"q")
        elif how == "ctrl+c":
            tui.type(b"\x03")
        else:
            os.kill(tui.proc.pid, getattr(signal, how))
        code = tui.wait(15)
    if how in ("q", "ctrl+c"):
        assert code == 0
    # the fixture waits for, and then asserts, no process, shm entry or run dir of ours


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_headless_interrupted_prints_summary_and_cleans_up(sig, nothing_left_behind) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ipcviz", "run", str(EVERY_KIND),
                             "--headless", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(run_started, message="the run to start")
    except AssertionError:
        proc.kill()
        proc.communicate()
        raise
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=15)
    import json

    summary = json.loads(out)
    assert summary["duration_s"] < 30
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_runtime_sigkilled_workers_die_and_clean_removes_the_rest(nothing_left_behind) -> None:
    with LiveRun(str(EVERY_KIND)) as run:
        snap = run.wait_for(lambda s: s.worker("reader").pid and s.worker("writer").loops > 0)
        workers = [ProcessIdentity.of(w.pid) for w in snap.workers if w.pid]
        os.kill(run.source.proc.pid, signal.SIGKILL)
        # PR_SET_PDEATHSIG: the workers die with the runtime
        wait_until(lambda: not any(w and w.exists() for w in workers), message="workers to die")
        left_shm = ipcviz_shm_entries()
        assert left_shm, "a SIGKILLed runtime cannot clean up: its objects remain"
        # `clean` while the UI side is still open (leaving it sweeps the run itself)
        wait_until(lambda: run.source.proc.poll() is not None, message="the runtime reaped")
        result = run_cli("clean")
    assert result.returncode == 0
    removed = result.stdout
    assert all(name.removeprefix("sem.") in removed for name in left_shm), removed
    assert "run directory" in removed


def test_clean_never_touches_a_live_run(nothing_left_behind) -> None:
    with LiveRun(str(EVERY_KIND)) as run:
        run.wait_for(lambda s: s.worker("writer").loops > 0)
        before = ipcviz_shm_entries()
        result = run_cli("clean")
        assert "nothing to clean" in result.stdout
        assert ipcviz_shm_entries() >= before
        snap = run.wait_for(lambda s: s.worker("writer").loops > 2)
        assert snap.worker("writer").state != "exited"


def test_objects_are_private(nothing_left_behind) -> None:
    with LiveRun(str(EVERY_KIND)) as run:
        run.wait_for(lambda s: s.worker("writer").loops > 0)
        (directory,) = live_run_dirs()
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "ch").lstat().st_mode) == 0o700
        for entry in (directory / "ch").iterdir():
            assert stat.S_IMODE(entry.lstat().st_mode) == 0o600, entry
        for name in ipcviz_shm_entries():
            assert stat.S_IMODE(os.stat(f"/dev/shm/{name}").st_mode) == 0o600, name
        addr = run.latest.channel("t").data["address"]
        assert addr.startswith("127.0.0.1:")


def test_a_recycled_pid_is_never_signalled() -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        real = ProcessIdentity.of(victim.pid)
        assert real is not None and real.exists()
        impostor = ProcessIdentity(victim.pid, real.start + 1)  # same pid, another process
        assert not impostor.exists()
        assert impostor.signal(signal.SIGKILL) is False
        time.sleep(0.1)  # nothing should happen: there is no event to wait for
        assert victim.poll() is None, "the process behind a reused pid was signalled"
        assert real.signal(signal.SIGKILL) is True
        assert victim.wait(5) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_restart_policies(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 2.5
workers:
  flaky:
    restart: on-failure
    steps:
      - sleep: 0.3
      - exit: 3
  steady:
    restart: on-failure
    steps:
      - exit: 0
  always:
    restart: always
    handlers: {SIGTERM: count}
    steps:
      - sleep: 10
timeline:
  - {at: 0.5, kill: always}
""")
    summary = run_scenario(path)
    workers = summary["workers"]
    assert workers["flaky"]["restarts"] >= 2  # every 0.3 s + 0.5 s back-off
    assert workers["steady"]["restarts"] == 0  # exit 0 is not a failure
    assert workers["always"]["restarts"] == 0  # killed by the user: never auto-restarted
    assert workers["always"]["exit"] == "SIGKILL"


def test_exception_inside_the_ui_still_cleans_up(nothing_left_behind) -> None:
    import asyncio

    from ipcviz.tui.app import make_app
    from ipcviz.tui.source import LiveSource

    source = LiveSource(str(EVERY_KIND))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None, message="a first frame")

            def boom() -> None:
                raise RuntimeError("a bug in a widget")

            app.call_later(boom)
            await until(pilot, lambda: app.return_code is not None,
                        message="the app to end on the exception")

    with pytest.raises(RuntimeError, match="a bug in a widget"):
        asyncio.run(scenario())
    assert source.proc is None  # the app stopped its runtime on the way out
    assert source.leaks is not None and source.leaks["ipc_objects"] == 0


def test_a_crashing_worker_leaves_the_others_running(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 1.5
channels:
  p: {kind: pipe}
workers:
  crasher:
    steps:
      - sleep: 0.2
      - exit: 70
  steady:
    loop: true
    steps: [{sleep: 0.05}]
""")
    summary = run_scenario(path)
    assert summary["workers"]["crasher"]["exit"] == 70
    assert summary["workers"]["steady"]["exit"] is None
    assert summary["workers"]["steady"]["state"] in ("sleeping", "running")
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
