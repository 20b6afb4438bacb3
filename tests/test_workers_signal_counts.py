"""The workers table cuts a worker's signal counts last: the column takes room from the
state's words once a worker has received more kinds of signal than it holds, and where
even that is too little, the names lose their "SIG" before any count is cut."""

from __future__ import annotations

import asyncio

from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, read_recording
from ipcviz.tui.widgets.worker_columns import signals_cell
from ipcviz.tui.widgets.workers import WorkersTable
from tests.conftest import run_cli
from tests.waiting import until

SCENARIO = """name: three kinds
duration: 0.8
workers:
  stubborn:
    handlers: {SIGINT: log, SIGTERM: log, SIGUSR1: count}
    steps: [{sleep: 0.7}]
timeline:
  - {at: 0.1, signal: {to: stubborn, sig: SIGINT}}
  - {at: 0.2, signal: {to: stubborn, sig: SIGUSR1, count: 3, interval: 0.05}}
  - {at: 0.4, signal: {to: stubborn, sig: SIGTERM}}
"""
WHOLE = "SIGINT 1, SIGUSR1 3, SIGTERM 1"


def test_three_kinds_of_signal_counted_whole_at_120_and_named_short_at_80(
        tmp_path, nothing_left_behind) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    result = run_cli("record", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    frames = read_recording(str(tmp_path / "r.jsonl"))
    got = frames[-1].worker("stubborn").signals_received
    assert got == {"SIGINT": 1, "SIGUSR1": 3, "SIGTERM": 1}
    asyncio.run(_row_text(frames))


async def _row_text(frames) -> None:
    app = make_app(source=FixedSource(frames))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.latest is frames[-1], message="the frames shown")
        await pilot.pause()
        table = app.query_one(WorkersTable)
        row = "".join(s.text for s in table.render_line(1))
        assert WHOLE in row, row
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        row = "".join(s.text for s in table.render_line(1))
        assert " INT 1, USR1 " in row, row  # more of the counts than "SIGINT 1,…"


def test_signal_names_lose_sig_only_when_the_counts_would_be_cut() -> None:
    counts = {"SIGINT": 1, "SIGUSR1": 3, "SIGTERM": 1}
    assert signals_cell(counts, 30) == WHOLE
    assert signals_cell(counts, 29) == "INT 1, USR1 3, TERM 1"
    assert signals_cell({}, 10) == "-"
