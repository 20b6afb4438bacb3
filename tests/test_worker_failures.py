"""Run-time failures end a worker cleanly with the reason and exact counts (issue 12):
a full file system under a queue's spool or a mapped file, a fork the kernel refuses;
and the books balance when workers are stopped mid-burst at the end of a run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ipcviz.cli import main
from ipcviz.telemetry.ring_events import EventCode as EV

from .conftest import ROOT, run_scenario
from .live import LiveRun
from .users import as_user

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mounts a small tmpfs "
                               "in a private mount namespace, or changes to another uid")
MESSAGE = 200_000  # bytes per message: a 1 MiB file system holds a few


def run_on_small_tmpfs(scenario: Path, mountpoint: str, size: str = "1m",
                       run_root: Path | None = None, fill_after: float | None = None
                       ) -> subprocess.CompletedProcess[str]:
    """`ipcviz run --headless --json` in a private mount namespace where `mountpoint` is
    a fresh tmpfs of `size`; the mount goes away with the namespace."""
    script = ('mount -t tmpfs -o "size=$1,mode=0700" ipcviz-test "$2" || exit 99\n'
              'exec "$3" -m ipcviz run "$4" --headless --json')
    if fill_after is not None:  # another process fills the file system once the run started
        script = ('mount -t tmpfs -o "size=$1,mode=0700" ipcviz-test "$2" || exit 99\n'
                  '"$3" -m ipcviz run "$4" --headless --json & run=$!\n'
                  # once the run's channel files exist (the run has started), and a moment
                  'until ls "$2"/*/ch/* >/dev/null 2>&1; do sleep 0.02; done\n'
                  f'sleep {fill_after}\n'
                  'dd if=/dev/zero of="$2/filler" bs=64k 2>/dev/null\n'
                  'wait $run')
    env = dict(os.environ)
    if run_root is not None:
        env["IPCVIZ_RUN_ROOT"] = str(run_root)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) for a private mount namespace")
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                             "sh", size, mountpoint, sys.executable, str(scenario)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    if result.returncode == 99 or "unshare failed" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {result.stderr}")
    return result


@ROOT_ONLY
def test_a_full_spool_ends_the_sender_without_counting_a_half_message(
        tmp_path, scenario_file, nothing_left_behind) -> None:
    """An unbounded queue of big messages; the spool fits the file system when the run
    starts, then another process fills it: the message that does not fit is not counted,
    not left in the spool, and never reaches the reader."""
    path = scenario_file(f"""
name: full spool
duration: 4
channels:
  q: {{kind: queue}}
workers:
  sender:
    loop: 6
    steps: [{{sleep: 0.3}}, {{send: {{to: q, size: {MESSAGE}}}}}]
  receiver:
    steps:
      - sleep: 2.5
      - repeat: {{times: 50, steps: [{{receive: {{from: q, block: false}}}}]}}
      - sleep: 5
""")
    run_root = tmp_path / "runs"
    run_root.mkdir(mode=0o700)
    result = run_on_small_tmpfs(path, str(run_root), size="2m", run_root=run_root,
                                fill_after=0.4)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    sender = summary["workers"]["sender"]
    sent = sender["messages_sent"]["q"]
    assert sent >= 1
    queue = summary["channels"]["q"]
    # the spool: its 8-byte read position, then each message with its 4-byte length and
    # 8-byte header; not one byte of the message that did not fit
    assert queue["spool_bytes"] == 8 + sent * (4 + 8 + MESSAGE)
    assert queue["bytes_sent"] == sent * MESSAGE
    assert summary["workers"]["receiver"]["messages_received"]["q"] == sent
    assert queue["depth"] == 0
    assert sender["exit"] == 1
    assert sender["failure"] == "send to q failed: ENOSPC (No space left on device)"


@ROOT_ONLY
def test_a_mapped_file_the_file_system_cannot_hold_is_refused_before_start(
        tmp_path, scenario_file, nothing_left_behind) -> None:
    """Before: the file was sparse and the writer died of SIGBUS at its first write. Now the
    load-time budget refuses it (and the runtime allocates the file for real, should the
    space go between the check and the start)."""
    path = scenario_file("""
name: big mmap
duration: 2
channels:
  page: {kind: mmap, size: 4194304}
workers:
  scribe:
    loop: 20
    steps: [{write: {to: page, size: 65536}}]
""")
    run_root = tmp_path / "runs"
    run_root.mkdir(mode=0o700)
    result = run_on_small_tmpfs(path, str(run_root), run_root=run_root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs 4.0 MiB in the run directory's file system" in lines[0]
    assert list(Path(run_root).iterdir()) == []


@ROOT_ONLY
def test_a_shared_array_dev_shm_cannot_hold_is_refused_before_start(
        scenario_file, nothing_left_behind) -> None:
    """Before: the runtime itself died of SIGBUS while filling the array's last writers."""
    path = scenario_file("""
name: big array
duration: 2
channels:
  board: {kind: shared_array, dtype: int64, shape: [1048576]}
workers:
  adder:
    steps: [{increment: {array: board, times: 10}}]
""")
    result = run_on_small_tmpfs(path, "/dev/shm")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs 8.0 MiB in /dev/shm" in lines[0], lines


@pytest.mark.parametrize("attempt", range(4))
def test_books_balance_with_writer_and_reader_stopped_mid_burst(
        attempt, scenario_file, nothing_left_behind) -> None:
    """Both sides SIGSTOPped while looping in bursts, still stopped at the end: the final
    reading wakes them (uncounted SIGCONT), lets them store their counts, stops them
    again. Before: written - read - buffered was off by up to a burst (4 of 4 runs)."""
    path = scenario_file("""
name: stopped mid burst
duration: 1.2
channels:
  p: {kind: pipe}
workers:
  w:
    loop: true
    handlers: {SIGCONT: count}
    steps: [{write: {to: p, size: 64}}]
  r:
    loop: true
    steps: [{read: {from: p, bytes: 64}}]
timeline:
  - {at: 0.6, stop: w}
  - {at: 0.6, stop: r}
""")
    summary = run_scenario(path)
    pipe = summary["channels"]["p"]
    assert pipe["bytes_written"] > 0
    assert pipe["bytes_written"] == pipe["bytes_read"] + pipe["buffered"]
    for name in ("w", "r"):
        assert summary["workers"][name]["state"] == "stopped"
    # the runtime's own SIGCONT is not one the scenario sees
    assert summary["workers"]["w"]["signals_received"].get("SIGCONT", 0) == 0


@ROOT_ONLY
def test_a_refused_fork_ends_the_spawner_with_the_reason(nothing_left_behind) -> None:
    """fork() fails for real: the run belongs to a user allowed 3 processes (the runtime,
    the spawner, one child). Before: exit 70, the traceback only in a deleted log."""
    uid = 60000 + os.getpid() % 5000  # a uid nobody else uses here
    place = Path(tempfile.mkdtemp(prefix="ipcviz-nproc-"))
    try:
        os.chmod(place, 0o755)
        scenario = place / "spawner.yaml"
        scenario.write_text("""
name: refused fork
duration: 2
workers:
  spawner:
    steps:
      - spawn: kid
      - spawn: kid
      - spawn: kid
      - sleep: 5
  kid:
    spawned: true
    steps: [{sleep: 5}]
""")
        scenario.chmod(0o644)
        run_root = place / "runs"
        run_root.mkdir(mode=0o700)
        os.chown(run_root, uid, uid)

        # (not the tests' run-id log either: the other uid cannot write it; this test checks
        # its own run root instead). The run is a forked child of this process that became
        # the uid with RLIMIT_NPROC 3: it needs nothing from the checkout, which may sit
        # where the uid cannot enter (/root, 0700)
        env = {k: v for k, v in os.environ.items()
               if k not in ("XDG_RUNTIME_DIR", "IPCVIZ_RUN_LOG")}
        env.update(IPCVIZ_RUN_ROOT=str(run_root), OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1", HOME=str(place))

        def run() -> tuple[int, str, str]:
            os.environ.clear()
            os.environ.update(env)
            os.chdir(place)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["run", str(scenario), "--headless", "--json"])
            return code, out.getvalue(), err.getvalue()

        code, stdout, stderr = as_user(run, uid, nproc=3)
        result = subprocess.CompletedProcess([], code, stdout, stderr)
        assert result.returncode == 0, result.stderr
        assert "failure: spawn failed: fork() EAGAIN" in result.stderr  # the text summary
        summary = json.loads(result.stdout)
        spawner = summary["workers"]["spawner"]
        assert spawner["exit"] == 1
        assert spawner["failure"] == ("spawn failed: fork() EAGAIN "
                                     "(Resource temporarily unavailable)")
        assert [name for name in summary["workers"] if name.startswith("kid")] == ["kid#0"]
        assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
        assert list(run_root.iterdir()) == []
    finally:
        shutil.rmtree(place)


def test_a_write_cut_short_by_epipe_is_logged_like_any_other(scenario_file,
                                                            nothing_left_behind) -> None:
    """A big write half done when the reader leaves: EPIPE counted AND logged at once
    (before, this path counted it silently, so the first event said failure #10)."""
    path = scenario_file("""
name: epipe mid write
duration: 4
channels:
  p: {kind: pipe}
workers:
  writer:
    handlers: {SIGPIPE: ignore}
    steps: [{write: {to: p, size: 100000}}]
  reader:
    steps:
      - sleep: 0.5
      - read: {from: p, bytes: 64}
""")
    with LiveRun(str(path)) as run:
        run.wait_for(lambda s: s.worker("writer").exit is not None, timeout=15)
        epipes = [(e.event.channel, e.event.count) for e in run.events
                  if e.worker == "writer" and e.event and e.event.code is EV.EPIPE]
        final = run.latest
    assert final is not None
    assert final.worker("writer").epipe_errors == 1
    assert epipes == [("p", 1)]
