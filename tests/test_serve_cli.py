"""`ipcviz serve` before anything is served: each bad option, a directory others could
plant files in, a port in use and a missing textual-serve are one line and exit status 2;
and the served policy decides what a session may run (no browser needed here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ipcviz.scenario.load import load_scenario
from ipcviz.serve.policy import PolicyError, ServedPolicy, check_scenarios_dir
from tests.conftest import ROOT, run_cli

MINE = """\
name: mine
duration: 60
workers:
  only:
    steps:
      - sleep: 30
"""
PROGRAM = """\
name: runs a program
workers:
  tool:
    exec: ["true"]
"""


def one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = one_line_refusal(run_cli("serve", "--port", str(port), timeout=30))
    assert line == f"--port {port}: already in use on 127.0.0.1; choose another with --port"


def test_without_textual_serve_it_says_which_extra_to_install() -> None:
    code = ("import sys; sys.modules['textual_serve'] = None\n"
            "from ipcviz.cli import main; sys.exit(main(['serve']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=30)
    assert one_line_refusal(result) == ("ipcviz serve needs textual-serve, which is not "
                                        "installed: pip install 'ipcviz[serve]'")


@pytest.mark.parametrize(("args", "start"), [
    (["--max-sessions", "0"], "--max-sessions: 0 is not in 1..64"),
    (["--max-run", "nan"], "--max-run: nan is not a number of seconds"),
    (["--max-workers", "100000"], "--max-workers: 100000 is not in 1.."),
    (["--token", "short"], "--token: use at least 8 printable ASCII characters"),
    (["--token", "has space in it"], "--token: use at least 8 printable ASCII characters"),
])
def test_each_bad_option_is_one_line(args: list[str], start: str) -> None:
    assert one_line_refusal(run_cli("serve", *args, timeout=30)).startswith(start)


def test_a_scenarios_directory_others_can_write_or_a_link_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    line = one_line_refusal(run_cli("serve", "--scenarios", str(shared), timeout=30))
    assert line.endswith("others may write in it (mode 777); chmod go-w it first")
    own = tmp_path / "own"
    own.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(own)
    line = one_line_refusal(run_cli("serve", "--scenarios", str(link), timeout=30))
    assert line.endswith("not a directory (a link is not followed)")
    assert check_scenarios_dir(str(own)) == str(own)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_scenarios_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(PolicyError, match="owned by uid 65534, not by you"):
        check_scenarios_dir(str(theirs))


def test_the_served_lessons_are_the_bundled_ones_then_the_directory_s_own_files(
        tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir(mode=0o700)
    (lessons / "mine.yaml").write_text(PROGRAM)
    (lessons / "pipe_oneway.yaml").write_text(PROGRAM)  # a bundled name: not this file
    (lessons / "notes.txt").write_text("not a scenario")
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(PROGRAM)
    (lessons / "planted.yaml").symlink_to(elsewhere)  # a link: not served
    served = ServedPolicy(str(lessons)).lessons()
    assert served["mine"] == lessons / "mine.yaml"
    assert served["pipe_oneway"].parent != lessons
    assert "planted" not in served and "notes" not in served
    assert list(served)[0] == "signals_handlers"  # the course's order first
    assert set(served) - {"mine"} == set(ServedPolicy().lessons())


def test_programs_run_only_with_allow_exec_and_the_process_cap_holds(
        tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text(PROGRAM)
    program = load_scenario(path)
    refusal = ServedPolicy().refusal(program)
    assert refusal is not None and refusal.startswith("worker 'tool' runs or watches a program")
    assert ServedPolicy(allow_exec=True).refusal(program) is None
    zombies = load_scenario("sigchld_zombies")  # 22 processes at once at worst
    assert ServedPolicy(max_workers=22).refusal(zombies) is None
    assert ServedPolicy(max_workers=21).refusal(zombies) == (
        "it has up to 22 processes at once; a served session allows 21 (the server's "
        "--max-workers)")
    assert all(ServedPolicy().refusal(load_scenario(p)) is None
               for p in ServedPolicy().lessons().values())


def test_the_served_app_refuses_the_editor_and_never_rereads_the_file(
        tmp_path: Path, monkeypatch, nothing_left_behind) -> None:
    """The sandbox without a browser (the browser tests press the same keys): `e` starts
    no editor and ctrl+r reruns the bytes read at the start, whatever the file says now."""
    import asyncio

    from ipcviz.tui.served import make_served_app
    from tests.test_tui_live import wait_started
    from tests.waiting import until

    lessons = tmp_path / "lessons"
    lessons.mkdir(mode=0o700)
    lesson = lessons / "mine.yaml"
    lesson.write_text(MINE)
    marker = tmp_path / "editor-ran"
    editor = tmp_path / "editor"
    editor.write_text(f"#!/bin/sh\ntouch {marker}\n")
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.setenv("VISUAL", str(editor))
    policy = ServedPolicy(str(lessons))

    async def scenario() -> None:
        app = make_served_app(policy, lesson)
        app.handle_signals = False  # (the session's own process would)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            first = app.source
            await pilot.press("e")
            await until(pilot, lambda: any("an editor would run" in str(n.message)
                                           for n in app._notifications),
                        message="the refusal's toast")
            assert not marker.exists()
            lesson.write_text(MINE.replace("sleep: 30", "exit: 3"))
            await pilot.pause(1.5)  # the watch on the file would have seen it by now
            assert app.source is first
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.source is not first and app.latest is not None
                        and all(w.pid for w in app.latest.workers))
            assert app.source.opened.raw == first.opened.raw
            assert app.latest.worker("only").exit is None
            await pilot.press("q")  # back to the picker
            await until(pilot, lambda: app.source is None)
            await pilot.press("q")

    asyncio.run(scenario())
    assert not marker.exists()
