"""The diagnoses where a person sees them: the programs panel of the live view at 80x24
(the bold "diagnosis:" line right under the program, on screen), and `watch --pid` on a
buggy tree that was already running (observed only, never ended)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.base import shown_lines
from ipcviz.tui.widgets.programs import ProgramsPanel
from ipcviz.watch import watch_scenario

from .conftest import ROOT, run_cli
from .waiting import until, wait_until

BUGS = ROOT / "tests" / "ipc_bugs"


def test_at_80x24_the_diagnosis_is_the_line_under_the_program(tmp_path,
                                                              nothing_left_behind) -> None:
    path = tmp_path / "watch.yaml"
    path.write_text(watch_scenario([sys.executable, str(BUGS / "eof_never.py")], None, 20,
                                   str(tmp_path)))

    async def scenario() -> None:
        app = make_app(source=LiveSource(str(path), allow_exec=True))
        async with app.run_test(size=(80, 24)) as pilot:
            panel = app.query_one(ProgramsPanel)
            await until(pilot, lambda: any("diagnosis:" in line.plain
                                              for line in panel._text_lines), timeout=20)

            def under_the_program() -> bool:
                lines = [line.plain for line in panel._text_lines]
                at = next(i for i, line in enumerate(lines) if "diagnosis:" in line)
                # right under the program's line (wrapped at the panel's width: a long path)
                assert lines[0].startswith("eof_never runs ") and "".join(
                    lines[:at]).endswith("eof_never.py")
                assert lines[at].startswith("  diagnosis: EOF can never come (for ")
                shown = panel._text_lines[at]
                assert "bold red" in {str(shown.style)} | {str(x.style) for x in shown.spans}
                text = " ".join(lines[at:at + 4])  # wrapped, all of it kept
                assert "(the reader itself)" in text
                assert all(len(line) <= panel.text_width for line in lines)
                assert (shown_lines(panel) or 0) > at, "the diagnosis is below the edge"
                return True

            await until(pilot, under_the_program, message="the diagnosis under the program")

    asyncio.run(scenario())


def test_watch_pid_diagnoses_a_tree_already_running(nothing_left_behind) -> None:
    """The EOF bug started outside ipcviz: attached, the same diagnosis and graph; at the
    end the tree still runs (observed only), and is ended here."""
    proc = subprocess.Popen([sys.executable, str(BUGS / "eof_never.py")],
                            start_new_session=True)
    try:
        (child,) = wait_until(lambda: _children(proc.pid), 10, message="the bug's child")
        result = run_cli("watch", "--pid", str(proc.pid), "--headless", "--json",
                         "--duration", "2.5", timeout=60)
        assert result.returncode == 0, result.stderr
        (entry,) = json.loads(result.stdout)["workers"].values()
        program = entry["program"]
        assert program["attached"] is True
        assert [d["kind"] for d in program["diagnoses"]] == ["eof_never"]
        (found,) = program["diagnoses"]
        assert found["pids"] == [child]
        assert f"pid {child} (python3) fd 4 (the reader itself)" in found["text"] or \
            f"pid {child} (python) fd 4 (the reader itself)" in found["text"]
        (pipe,) = [o for o in program["graph"]["objects"] if o["kind"] == "pipe"]
        assert sorted((e["pid"], e["fd"], e["end"]) for e in pipe["ends"]) == [
            (child, 3, "read"), (child, 4, "write")]
        assert "DIAGNOSIS: EOF can never come" in result.stderr
        assert proc.poll() is None and _children(proc.pid) == [child]  # not ended
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def test_the_panel_names_each_pipe_ends_descriptor_from_the_graph() -> None:
    """The pipe line of the programs panel: who holds each end, and by which descriptor
    (from the summary's graph); without a graph (an older recording) names only."""
    from ipcviz.telemetry.snapshot import WorkerView
    from ipcviz.tui.widgets.programs import program_lines

    pipe = {"kind": "pipe", "path": None, "inode": 7, "buffered": 0, "capacity": 65536,
            "writers": [11], "readers": [11], "channel": None}
    observed = {"processes": [[10, 1, "python3", "sleeping", "wait", 0],
                              [11, 10, "python3", "sleeping", "pipe read", 0]],
                "pipes": [pipe], "queues": [], "sockets": [], "shared_memory": []}
    graph = {"processes": [], "objects": [{"id": "pipe:[7]", "kind": "pipe", "ends": [
        {"pid": 11, "fd": 3, "end": "read", "inode": 0},
        {"pid": 11, "fd": 4, "end": "write", "inode": 0}]}]}
    w = WorkerView(name="eof", group="eof", pid=10, state="sleeping",
                   program={"argv": ["eof"], "observed": observed, "graph": graph})
    text = "\n".join(line.plain for line in program_lines(w))
    assert "pipe 7: write end: python3 11 fd 4; read end: python3 11 fd 3" in text
    w = WorkerView(name="eof", group="eof", pid=10, state="sleeping",
                   program={"argv": ["eof"], "observed": observed})
    text = "\n".join(line.plain for line in program_lines(w))
    assert "pipe 7: write end: python3 11; read end: python3 11" in text


def test_a_replay_keeps_the_diagnoses_and_the_graph(tmp_path) -> None:
    """A recorded frame of a watched program: its diagnoses (current and over the run)
    and its graph read back whole, and the panel shows the diagnosis and the descriptors."""
    from ipcviz.telemetry.recording_file import read_recording

    found = {"kind": "eof_never", "key": "eof_never:pipe:[7]", "text": "EOF can never come "
             "(for 2.0 s): pid 11 (python3) waits reading pipe 7 (fd 3)", "held_s": 2.0,
             "pids": [11], "objects": ["pipe:[7]"]}
    graph = {"processes": [{"pid": 11, "name": "python3"}], "objects": [
        {"id": "pipe:[7]", "kind": "pipe", "ends": [
            {"pid": 11, "fd": 3, "end": "read"}, {"pid": 11, "fd": 4, "end": "write"}]}]}
    pipe = {"kind": "pipe", "path": None, "inode": 7, "buffered": 0, "capacity": 65536,
            "writers": [11], "readers": [11], "channel": None}
    frame = {"scenario": "x", "elapsed": 0.1, "running": True, "workers": [{
        "name": "eof", "group": "eof", "pid": 10, "state": "sleeping", "program": {
            "argv": ["eof"], "observed": {
                "processes": [[10, 1, "python3", "sleeping", "wait", 0],
                              [11, 10, "python3", "sleeping", "pipe read", 0]],
                "pipes": [pipe], "queues": [], "sockets": [], "shared_memory": [],
                "diagnoses": [found]},
            "diagnoses": [dict(found, now=True)], "graph": graph}}]}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(frame) + "\n")
    (snap,) = read_recording(str(path))
    program = snap.workers[0].program
    assert program["diagnoses"] == [dict(found, now=True)] and program["graph"] == graph
    from ipcviz.tui.widgets.programs import program_lines

    text = [line.plain for line in program_lines(snap.workers[0])]
    assert text[1] == "  diagnosis: " + found["text"]
    assert "write end: python3 11 fd 4; read end: python3 11 fd 3" in "\n".join(text)
