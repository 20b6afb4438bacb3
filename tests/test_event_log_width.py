"""The event log cuts a line at its own edge, not at the console's: headless (snapshots,
`ipcviz screenshot`) the console is 80 cells wide whatever the screen, and every longer
line lost its end there, a repeat's count and spacing with it."""

from __future__ import annotations

import asyncio
import dataclasses

from ipcviz.telemetry.snapshot import EventView
from ipcviz.tui.app import SnapshotArrived, make_app
from ipcviz.tui.panels import EventLog
from ipcviz.tui.source import FixedSource, read_recording
from tests.conftest import run_cli
from tests.waiting import until

SCENARIO = "name: one sleeper\nduration: 0.5\nworkers:\n  w: {steps: [{sleep: 0.2}]}\n"
#: 100 cells of words: longer than the headless console, shorter than the log at 120
LONG = "a line of the event log that runs past eighty cells and ends with its count " + "x" * 5


def test_a_line_wider_than_80_cells_is_whole_in_a_120_cell_log(tmp_path,
                                                              nothing_left_behind) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    result = run_cli("record", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    frames = read_recording(str(tmp_path / "r.jsonl"))
    asyncio.run(_whole_line(frames))


async def _whole_line(frames) -> None:
    app = make_app(source=FixedSource(frames[:-1]))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.latest is frames[-2], message="the frames shown")
        log = app.query_one(EventLog)
        last = dataclasses.replace(frames[-1], events=(
            EventView(frames[-1].elapsed, "w", LONG, "info"),))
        app.post_message(SnapshotArrived(last))
        await until(pilot, lambda: app.latest is last, message="the last frame shown")
        await pilot.pause()
        line = log.lines[-1].text.rstrip()
        assert line.endswith(LONG), line
        assert "…" not in line
