"""By-hand and fast lessons start held (`start: held`): in a person's live view nothing
moves until space (run) or n (one step), the header says so and counts the steps, and
every granted operation is logged with its place ("step 3/8: a: store counter[0]").
Headless runs, --check and recordings start running as before."""

from __future__ import annotations

import asyncio
import json

import pytest

from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.events import EventLog
from ipcviz.tui.widgets.status import StatusBar
from ipcviz.tui.event_words import event_words as said

from .conftest import SCENARIOS, run_cli, run_scenario
from .test_tui_live import frames_later, wait_started
from .waiting import until

HELD_WORDS = "HELD: press space to run, n to step"


def header(app) -> str:
    return app.query_one(StatusBar).render().plain


def logged(app) -> list[tuple[str, str]]:
    """The event log's steps and loads and stores, as (worker, text before " (")."""
    return [(e.event.worker, said(e.event).split(" (")[0])
            for e in app.query_one(EventLog).entries
            if said(e.event).startswith(("step ", "load ", "store "))]


def test_a_held_schedule_waits_then_steps_with_n(nothing_left_behind) -> None:
    async def scenario() -> None:
        app = make_app(source=LiveSource(str(SCENARIOS / "race_by_hand.yaml"), held=True))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await frames_later(pilot, app, 10)  # a second of frames: alive, and held
            now = app.latest
            assert now.channel("counter").data.get("increments", 0) == 0
            assert [sum(w.increments.values()) for w in now.workers] == [0, 0]
            assert now.mode == "pause" and now.held_start and now.steps == 0
            assert logged(app) == []
            assert HELD_WORDS in header(app) and "step 0/8" in header(app)
            for n in (1, 2, 3):
                await pilot.press("n")
                await until(pilot, lambda: len(logged(app)) == 2 * n, timeout=10)

            def stepped() -> bool:
                assert "step 3/8" in header(app) and HELD_WORDS not in header(app)
                assert app.latest.channel("counter").data["increments"] == 1
                return True

            await until(pilot, stepped, message="three steps on the header and the counter")
            assert logged(app) == [
                ("runtime", "step 1/8: a: load counter[0]"), ("a", "load counter[0] → 0"),
                ("runtime", "step 2/8: b: load counter[0]"), ("b", "load counter[0] → 0"),
                ("runtime", "step 3/8: a: store counter[0]"), ("a", "store counter[0] ← 1"),
            ]
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_held_lesson_without_a_schedule_waits_for_space(nothing_left_behind) -> None:
    """signals_handlers' timeline (SIGINT to stubborn at 0.5 s) waits with the run clock;
    space lets it go on."""
    async def scenario() -> None:
        source = LiveSource(str(SCENARIOS / "signals_handlers.yaml"), held=True)
        app = make_app(source=source)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_started(pilot, app)
            await frames_later(pilot, app, 10)  # twice the timeline's 0.5 s, were it running
            stubborn = app.latest.worker("stubborn")
            assert stubborn.signals_received == {}
            assert app.latest.run_time == 0
            # 80 columns: the held words said briefly, and the clock and the workers
            # alive still on the line (the title gave way first)
            line = header(app)
            assert line.startswith(" ipcviz   HELD: space runs, n steps ") and len(line) <= 80
            assert "│ 0.0 s" in line and line.endswith("/3 alive")
            await pilot.press("space")
            await until(pilot, lambda: app.latest.worker("stubborn").signals_received
                           .get("SIGINT") == 1, timeout=10)
            assert HELD_WORDS not in header(app)
            await pilot.press("q")

    asyncio.run(scenario())


def test_headless_runs_and_recordings_do_not_start_held(tmp_path,
                                                        nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "signals_handlers.yaml", "--duration", "0.8")
    assert summary["workers"]["stubborn"]["signals_received"].get("SIGINT") == 1  # at 0.5 s
    out = tmp_path / "race.jsonl"
    result = run_cli("record", str(SCENARIOS / "race_by_hand.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    steps = [e["text"] for line in out.read_text().splitlines()
             for e in json.loads(line)["events"] if e["text"].startswith("step ")]
    assert steps == ["step 1/8: a: load counter[0]", "step 2/8: b: load counter[0]",
                     "step 3/8: a: store counter[0]", "step 4/8: b: store counter[0]",
                     "step 5/8: a: load counter[0]", "step 6/8: a: store counter[0]",
                     "step 7/8: b: load counter[0]", "step 8/8: b: store counter[0]"]


def test_start_takes_running_or_held() -> None:
    text = b"workers:\n  w: {steps: [{sleep: 1}]}\nstart: paused\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "f.yaml")
    assert info.value.lines == ["f.yaml:3:8: start: got 'paused'; expected 'running' or "
                                "'held'"]
    assert load_text(text.replace(b"paused", b"held"), "f.yaml").model.start == "held"
