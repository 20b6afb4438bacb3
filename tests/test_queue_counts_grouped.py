"""The queues panel groups a count's thousands as the rest of the screen does: beside
the cost panel's "10,000" messages, syscall_cost's queue said "sent 10000"."""

from __future__ import annotations

import asyncio

from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, read_recording
from ipcviz.tui.widgets.queues import QueuesPanel
from tests.conftest import run_cli
from tests.waiting import until

SCENARIO = """name: a thousand and two hundred
duration: 10
channels:
  q: {kind: mqueue, capacity: 10, message_size: 64}
workers:
  sender: {loop: 1200, steps: [{send: {to: q, size: 8}}]}
  receiver: {loop: 1200, steps: [{receive: {from: q}}]}
"""


def test_sent_and_received_grouped_by_thousands(tmp_path, nothing_left_behind) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    result = run_cli("record", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    frames = read_recording(str(tmp_path / "r.jsonl"))
    data = frames[-1].channel("q").data
    assert (data["messages_sent"], data["messages_received"]) == (1200, 1200)
    asyncio.run(_row(frames))


async def _row(frames) -> None:
    app = make_app(source=FixedSource(frames))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.latest is frames[-1], message="the frames shown")
        await pilot.pause()
        row = next(line.plain for line in app.query_one(QueuesPanel)._text_lines
                   if "mqueue q" in line.plain)
        assert "  1,200  1,200  " in row, row
