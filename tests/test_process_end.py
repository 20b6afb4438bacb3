"""`ipcviz run --headless` ends its process at once after the run (cli.end_process):
the summary printed whole, the exit functions run, the exit status kept, nothing of the
run left behind; only the interpreter's teardown of every module is skipped. Real runs
of the real command; a `sitecustomize` of the test's own marks what ran at the exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

#: registers an exit function, and keeps an object whose finalizer runs only when the
#: interpreter tears its modules down; each writes one word to $IPCVIZ_TEST_EXIT_MARKS
SITECUSTOMIZE = '''
import atexit, os

_fd = os.open(os.environ["IPCVIZ_TEST_EXIT_MARKS"], os.O_WRONLY | os.O_APPEND)


class _TornDown:
    def __init__(self, write, fd):
        self.write, self.fd = write, fd

    def __del__(self):
        self.write(self.fd, b"teardown\\n")


_torn_down = _TornDown(os.write, _fd)
atexit.register(os.write, _fd, b"atexit\\n")
'''

#: a summary longer than a pipe's 64 KiB (180 sleepers), an `expect` that fails
SLEEPERS = """\
duration: 0.5
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  w: {count: 180, steps: [{sleep: 30}]}
expect:
  - {channel: a, sum: "==-1"}
"""


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`python -m ipcviz ARGS` with the marking sitecustomize; its result and the marks."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marks = tmp_path / "marks"
    marks.write_text("")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"),
               IPCVIZ_TEST_EXIT_MARKS=str(marks))
    result = subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                            text=True, timeout=120, cwd=ROOT, env=env)
    return result, marks.read_text().split()


def test_a_headless_run_ends_at_once_with_everything_done(tmp_path: Path,
                                                          nothing_left_behind) -> None:
    scenario = tmp_path / "sleepers.yaml"
    scenario.write_text(SLEEPERS)
    result, marks = _run(tmp_path, "run", str(scenario), "--headless", "--json", "--check")
    assert len(result.stdout) > 65536  # more than a pipe holds: written whole all the same
    summary = json.loads(result.stdout)
    assert result.returncode == 1  # the failed `expect`, as before
    assert [r["ok"] for r in summary["expect"]] == [False]
    assert len(summary["workers"]) == 180
    assert summary["leaks"]["processes"] == summary["leaks"]["ipc_objects"] == 0
    assert "left behind: 0 processes, 0 IPC objects" in result.stderr  # the text report
    assert marks == ["atexit"]  # the exit functions ran; the teardown did not


def test_other_commands_end_as_before(tmp_path: Path) -> None:
    result, marks = _run(tmp_path, "validate", str(ROOT / "scenarios" / "race_by_hand.yaml"))
    assert result.returncode == 0, result.stderr
    assert marks == ["atexit", "teardown"]


SMALL = """\
duration: 0.3
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  w: {steps: [{increment: {array: a, index: 0, times: 5}}]}
expect:
  - {channel: a, sum: "==5"}
"""


def test_a_run_with_its_output_closed_runs_and_says_nothing_broken(
        tmp_path: Path, nothing_left_behind) -> None:
    """`ipcviz run ... >&-`: descriptor 1 closed by the caller. The run goes on (its
    output on /dev/null), its checks give the status, and no traceback: Python left
    sys.stdout None, and the fork's flush of it raised in the runtime."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    command = (f"exec {sys.executable} -m ipcviz run {scenario} --headless --json "
               f"--check >&-")
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]
