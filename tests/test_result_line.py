"""A lesson's result line (`result:`): checked when the file loads (a name it does not
have is an error with its line), filled in on every frame from the run's own values,
one line at 80 columns as at 120."""

from __future__ import annotations

import asyncio

import pytest

from ipcviz.scenario.result_line import render
from ipcviz.telemetry.result_values import snapshot_lookups
from ipcviz.scenario.load import ScenarioError, load_scenario, load_text
from ipcviz.scenario.paths import bundled_scenarios
from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.result import ResultLine

from .conftest import SCENARIOS
from .live import LiveRun
from .waiting import until

BAD = """\
channels:
  p: {kind: pipe}
workers:
  w: {count: 2, steps: [{sleep: 1}]}
result: "{worker.nobody.exit} {channel.p.depthh} {worker.w.0.bytes_read.q} {oops"
"""


def test_a_template_naming_what_the_file_has_not_is_an_error_with_its_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(BAD.encode(), "f.yaml")
    keys = ", ".join(sorted(__import__("ipcviz.scenario.refs", fromlist=["x"]).CHANNEL_KEYS))
    assert info.value.lines == [
        "f.yaml:5:9: result: {worker.nobody.exit}: unknown worker 'nobody' (workers: w, "
        "w.0, w.1)",
        f"f.yaml:5:9: result: {{channel.p.depthh}}: unknown key 'depthh' (keys: {keys})",
        "f.yaml:5:9: result: {worker.w.0.bytes_read.q}: unknown channel 'q' (channels: p)",
        "f.yaml:5:9: result: an unmatched '{' (write '{{' for the brace itself)",
    ]


def test_every_bundled_lesson_has_a_result_line() -> None:
    for path in bundled_scenarios():
        assert load_scenario(path).model.result, path.stem


def test_the_line_is_filled_in_from_each_frame(nothing_left_behind) -> None:
    """race_by_hand's schedule, one operation at a time: the counter and the lost update
    as each frame has them, ending exactly at 4 increments, counter 3, 1 lost."""
    template = load_scenario("race_by_hand").model.result
    seen = []
    with LiveRun(str(SCENARIOS / "race_by_hand.yaml")) as run:
        def record(snap) -> bool:
            seen.append(render(template, *snapshot_lookups(snap)))
            return not snap.running

        run.wait_for(record, timeout=30)
    assert seen[-1] == "increments 4 -> counter 3: 1 lost"
    assert "increments 0 -> counter 0: 0 lost" in seen


def test_a_group_adds_up_its_processes() -> None:
    lines = {"client.0": {"bytes_written": {"front": 25}},
             "client.1": {"bytes_written": {"front": 30}}}

    def worker(name: str):
        return [e for k, e in lines.items() if k == name or k.startswith(f"{name}.")]

    assert render("{worker.client.bytes_written.front} / {worker.client.1.bytes_written."
                  "front} {{x}}", worker, lambda name: None) == "55 / 30 {x}"
    assert render("{channel.gone.depth}", worker, lambda name: None) == "–"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_line_is_one_line_under_the_status_line(size, nothing_left_behind) -> None:
    async def scenario() -> None:
        app = make_app(source=LiveSource(str(SCENARIOS / "race_by_hand.yaml")))
        async with app.run_test(size=size) as pilot:
            line = app.query_one(ResultLine)
            await until(pilot, lambda: line.plain.endswith("counter 3: 1 lost"),
                           timeout=30)

            def laid_out() -> bool:
                assert line.plain == " ▸ increments 4 -> counter 3: 1 lost"
                assert line.region.y == 1 and line.region.height == 1
                assert line.region.width == size[0]
                return True

            await until(pilot, laid_out, message="the result line under the status line")
            await pilot.press("q")

    asyncio.run(scenario())
