"""`v` and `e` in the live app, with real processes: the YAML view marks each worker's
current step; an edited file that loads restarts the run with it, one that does not shows
its problems with their lines and the old run goes on."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time

from ipcviz.tui.app import make_app
from ipcviz.tui.screens import ProblemsScreen
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.source_view import SourceView
from tests.conftest import ROOT
from tests.test_tui_live import frames_later, wait_started
from tests.waiting import until

SCENARIO = """\
duration: 30
workers:
  first:
    steps:
      - sleep: 30
  second:
    steps:
      - sleep: 0.1
      - sleep: 30
"""


def editor(tmp_path, old: str, new: str) -> str:
    """An $EDITOR that replaces `old` by `new` in the file it is given."""
    script = tmp_path / "edit.py"
    script.write_text(f"import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      f"p.write_text(p.read_text().replace({old!r}, {new!r}))\n")
    wrapper = tmp_path / "editor"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def rendered(app) -> str:
    view = app.query_one(SourceView)
    return str(view.render())


def test_v_marks_each_workers_current_step(scenario_file, nothing_left_behind) -> None:
    source = LiveSource(str(scenario_file(SCENARIO)))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await until(pilot, lambda: app.latest.worker("second").step == 1)
            await pilot.press("v")
            assert app.query_one(SourceView).display
            await until(pilot, lambda: "◀ second" in rendered(app))
            lines = rendered(app).splitlines()
            assert any(ln.startswith("  5▶") and ln.endswith("◀ first") for ln in lines)
            assert any(ln.startswith("  9▶") and ln.endswith("◀ second") for ln in lines)
            await pilot.press("v")
            assert not app.query_one(SourceView).display
            await pilot.press("q")

    asyncio.run(scenario())


def test_e_restarts_with_the_edited_file(scenario_file, tmp_path, monkeypatch,
                                         nothing_left_behind) -> None:
    path = scenario_file(SCENARIO)
    monkeypatch.setenv("EDITOR", editor(tmp_path, "      - sleep: 30\n  second",
                                         "      - exit: 3\n  second"))
    monkeypatch.delenv("VISUAL", raising=False)
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            old = app.latest.worker("first").pid
            await pilot.press("e")
            await until(pilot, lambda: app.source is not source and app.latest
                           is not None and app.latest.worker("first").exit == 3)
            assert app.latest.worker("first").pid != old
            assert source.leaks == {"processes": 0, "ipc_objects": 0, "details": []}
            await pilot.press("q")
        assert "exit: 3" in path.read_text()

    asyncio.run(scenario())


def test_e_with_a_broken_file_shows_its_lines_and_keeps_the_run(
        scenario_file, tmp_path, monkeypatch, nothing_left_behind) -> None:
    path = scenario_file(SCENARIO)
    monkeypatch.setenv("EDITOR", editor(tmp_path, "sleep: 30\n  second", "sleep: x\n  second"))
    monkeypatch.delenv("VISUAL", raising=False)
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            old = app.latest.worker("first").pid
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ProblemsScreen))
            assert app.screen.lines == [
                f"{path}:5:16: workers.first.steps[0].sleep: Input should be a valid number "
                "(got 'x')"]
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProblemsScreen),
                        message="the problems closed")
            await frames_later(pilot, app)
            assert app.source is source and app.latest.worker("first").pid == old
            assert app.latest.worker("first").state != "exited"
            await pilot.press("q")

    asyncio.run(scenario())


def test_e_on_a_bundled_scenario_says_how_to_copy_it(nothing_left_behind) -> None:
    from ipcviz.scenario.paths import bundled_dir

    source = LiveSource(str(bundled_dir() / "pipe_two_way.yaml"))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("e")
            await until(pilot, lambda: [str(n.message) for n in app._notifications] == [
                "bundled scenario: copy it with `ipcviz new my_pipe_two_way.yaml --from "
                "pipe_two_way` and edit the copy"],
                message=lambda: f"the toast; shown: {list(app._notifications)}")
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_fixed_file_closes_the_problems_and_restarts(scenario_file, tmp_path, monkeypatch,
                                                       nothing_left_behind) -> None:
    """The problems of a broken version stayed on screen after the file was fixed and the
    run had restarted with it: a version that loads closes them."""
    path = scenario_file(SCENARIO)
    monkeypatch.setenv("EDITOR", editor(tmp_path, "sleep: 30\n  second", "sleep: x\n  second"))
    monkeypatch.delenv("VISUAL", raising=False)
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ProblemsScreen))
            path.write_text(SCENARIO.replace("      - sleep: 30\n  second",
                                             "      - exit: 4\n  second"))
            os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime for sure
            await until(pilot, lambda: app.source is not source and app.latest
                           is not None and app.latest.worker("first").exit == 4,
                           timeout=15)
            assert not isinstance(app.screen, ProblemsScreen)
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_yaml_view_starts_with_the_timeline_to_come() -> None:
    """`v` on a file longer than the screen (signals_handlers at 120x40): the timeline
    entries, listed after the file, were never on screen."""
    from ipcviz.scenario.paths import bundled_dir
    from ipcviz.tui.source import read_recording
    from ipcviz.tui.widgets.source_view import ScenarioSource, source_lines

    snaps = read_recording(str(ROOT / "tests" / "recordings" / "signals_handlers.jsonl"))
    snap = next(s for s in snaps if s.elapsed >= 1.0)
    source = ScenarioSource(str(bundled_dir() / "signals_handlers.yaml"))
    lines = [line.plain for line in source_lines(source, snap)]
    assert lines[0] == "timeline to come:"
    assert lines[1].startswith(" in ") and "(line " in lines[1]
    assert len(source.text.splitlines()) > 36  # longer than the view at 120x40
