"""`ipcviz watch --pid PID`: a running process of the user's, observed with its tree and
never ended; signalled only with --allow-signals. Real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from ipcviz.protocol import Kill, Restart, SendSignal
from ipcviz.runtime.supervisor import Runtime, StartError
from ipcviz.scenario.load import ScenarioError, load_text

from .conftest import run_cli
from .waiting import wait_until

#: a parent with one child joined by a pipe (sleep | cat), in a session of its own
TREE = ["sh", "-c", "sleep 60 | cat"]


@pytest.fixture
def tree():
    proc = subprocess.Popen(TREE, start_new_session=True)
    wait_until(lambda: len(_children(proc.pid)) >= 2, 5, interval=0.02,
               message="the tree's two children")
    yield proc
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def test_a_running_tree_is_observed_and_left_running(tree, nothing_left_behind) -> None:
    result = run_cli("watch", "--pid", str(tree.pid), "--headless", "--json",
                     "--duration", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    (name, worker), = summary["workers"].items()
    assert worker["pid"] == tree.pid and worker["exit"] is None
    seen = worker["program"]["observed"]
    kids = set(_children(tree.pid))
    assert {p[0] for p in seen["processes"]} == {tree.pid} | kids
    (pipe,) = [p for p in seen["pipes"] if set(p["writers"]) & kids and set(p["readers"]) & kids]
    assert pipe["buffered"] == 0 and pipe["capacity"] == 65536
    assert worker["program"]["attached"] is True
    assert summary["leaks"]["processes"] == 0
    assert tree.poll() is None and set(_children(tree.pid)) == kids  # all still running


def test_an_observed_process_is_never_signalled_or_restarted(tree, nothing_left_behind
                                                             ) -> None:
    text = f"workers:\n  t: {{attach: {{pid: {tree.pid}}}}}\n".encode()
    runtime = Runtime(load_text(text, "attach.yaml"), allow_exec=True)
    try:
        runtime.start()
        for command in (Kill("t"), SendSignal("t", signal.SIGTERM, 3), Restart("t")):
            runtime.execute(command)
        said: list[str] = []

        def answered() -> bool:
            runtime.poll(0.02)
            said.extend(e.text for e in runtime.take_events())
            return sum("not sent: this process is only observed" in t for t in said) >= 2 \
                and any("cannot restart" in t for t in said)

        wait_until(answered, interval=0, message=lambda: f"an answer to each key; said {said}")
        assert sum("not sent: this process is only observed" in t for t in said) == 2
        assert any("cannot restart" in t for t in said)
        assert runtime.procs[0].sent_to == {}
    finally:
        runtime.shutdown()
    assert tree.poll() is None and len(_children(tree.pid)) == 2


def test_with_allow_signals_a_key_reaches_it(tree, nothing_left_behind) -> None:
    text = f"workers:\n  t: {{attach: {{pid: {tree.pid}, signals: true}}}}\n".encode()
    runtime = Runtime(load_text(text, "attach.yaml"), allow_exec=True)
    try:
        runtime.start()
        runtime.execute(Kill("t"))

        def ended() -> bool:
            runtime.poll(0.02)
            return not runtime.procs[0].alive

        wait_until(ended, 5, interval=0, message="the attached process to end")
        # (here the runtime runs in the test's process, the tree's parent, so its reaper
        # collects the status; watched for real, the process is no child of ipcviz's)
        assert runtime.procs[0].exit == "ended" and not runtime.procs[0].alive
        assert not os.path.exists(f"/proc/{tree.pid}/status") or tree.poll() is not None
        said = [e.text for e in runtime.take_events()]
        assert any("SIGKILL sent" in t or "key: SIGKILL" in t for t in said), said
    finally:
        runtime.shutdown()


def test_a_file_cannot_watch_or_signal_a_process_unasked(scenario_file) -> None:
    path = scenario_file(f"workers:\n  t: {{attach: {{pid: {os.getpid()}}}}}\n")
    result = run_cli("run", str(path), "--headless")
    assert result.returncode == 2
    assert "use `ipcviz watch --pid" in result.stderr
    with pytest.raises(ScenarioError) as info:
        load_text(b"workers:\n  t: {attach: {pid: 5}}\n"
                  b"timeline:\n  - {at: 1, kill: t}\n  - {at: 1, restart: t}\n", "f.yaml")
    lines = "\n".join(info.value.lines)
    assert "'t' is observed only: signalling it needs `signals: true`" in lines
    assert "'t' is a process ipcviz did not start: it cannot restart it" in lines
    with pytest.raises(ScenarioError) as info:
        load_text(b"workers:\n  t: {attach: {pid: 5}, exec: [ls]}\n"
                  b"  u:\n    steps: [{signal: {to: t, sig: SIGUSR1}}]\n", "f.yaml")
    lines = "\n".join(info.value.lines)
    assert "'exec' is for a worker ipcviz starts" in lines
    assert "'t' is a process ipcviz did not start: a `signal` step cannot reach it" in lines


def test_watch_pid_says_in_one_line_what_is_wrong(nothing_left_behind) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for args, words in ((["--pid", str(gone.pid)], f"no process {gone.pid} is running"),
                        (["--pid", "1"], "pick the program's pid"),
                        (["--pid", str(os.getpid()), "--", "ls"], "takes no command"),
                        (["--allow-signals", "--", "ls"], "goes with --pid")):
        result = run_cli("watch", *args, "--headless")
        assert result.returncode == 2 and result.stderr.strip() == f"watch: {words}" or \
            words in result.stderr, (args, result.stderr)
    with pytest.raises(StartError):
        Runtime(load_text(f"workers:\n  t: {{attach: {{pid: {gone.pid}}}}}\n".encode(),
                          "f.yaml"), allow_exec=True).start()


def test_a_restarted_run_never_watches_a_process_that_took_the_pid(tree) -> None:
    """`watch --pid` writes the start time: the same pid with another start is refused."""
    text = f"workers:\n  t: {{attach: {{pid: {tree.pid}, start: 1}}}}\n".encode()
    with pytest.raises(StartError, match="has ended"):
        Runtime(load_text(text, "attach.yaml"), allow_exec=True).start()
