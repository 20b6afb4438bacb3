"""The timeline (`T`): a sequence chart of a recorded real run, drawn as text rows (tested
as strings), and in the app at 120x40 and 80x24 (snapshots)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ipcviz.telemetry.recording_file import read_recording
from ipcviz.telemetry.sequence import RUNTIME, Sequence
from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, snapshots_until
from ipcviz.tui.timeline_chart import Columns, Row, rows_of
from ipcviz.tui.widgets.events import EventLog
from ipcviz.tui.widgets.timeline import Timeline, TimelineLog

RECORDINGS = Path(__file__).parent / "recordings"
SIZES = [pytest.param((120, 40), id="wide"), pytest.param((80, 24), id="narrow")]


def chart(name: str) -> tuple[list[str], list[Row]]:
    """The participants and rows of a whole recording, frame by frame as the panel sees
    them."""
    sequence, names, rows = Sequence(), [], []
    seen = (0, 0, 0)
    for snap in read_recording(str(RECORDINGS / name)):
        sequence.add(snap)
        names += [w.name for w in snap.workers if w.name not in names]
        rows += rows_of(sequence.arrows[seen[0]:], sequence.marks[seen[1]:]
                        + sequence.waiting[seen[2]:])
        seen = (len(sequence.arrows), len(sequence.marks), len(sequence.waiting))
    return names, rows


def test_a_signal_is_an_arrow_from_sender_to_receiver() -> None:
    names, rows = chart("shm_signal_notify.jsonl")
    columns = Columns(names, 40)
    assert columns.heading().plain == "\xa0\xa0time      reader          writer     "
    assert [columns.draw(r).plain for r in rows] == [
        "  1.00         │◀───SIGUSR1────●        "]


def test_a_message_left_in_a_queue_is_sent_then_received_later() -> None:
    """mqueue_bounded: the producer's 5 messages wait from 0.05 s until the consumer
    starts at 3 s; the runtime's SIGKILL to the producer is an arrow from its column."""
    names, rows = chart("mqueue_bounded.jsonl")
    columns = Columns([RUNTIME, *names], 60)
    lines = [columns.draw(r).plain.rstrip() for r in rows]
    assert lines[0] == "  0.05       │            ○ jobs ×5 sent, waiting   │"
    assert lines[1] == "  1.50       ●──SIGKILL──▶│            │            │"
    assert lines[2] == "  3.06       │            ●────jobs (sent 0.05)────▶│"
    assert sum(r.arrow.count for r in rows if r.arrow and r.arrow.kind == "message") == 6


def test_acquires_are_marked_and_narrow_columns_cut_names() -> None:
    names, rows = chart("deadlock.jsonl")
    assert Columns(["a_long_worker_name", "b"], 20).heading().plain == "\xa0\xa0time a_…me   b   "
    columns = Columns(names, 40)
    assert [columns.draw(r).plain.rstrip() for r in rows if r.mark] == [
        "  0.05         ◆ acquired lock_a",
        "  0.05         │               ◆ acquir…"]


def mqueue_app():
    snaps = snapshots_until(read_recording(str(RECORDINGS / "mqueue_bounded.jsonl")), 4.8)
    return make_app(source=FixedSource(snaps))


def test_T_shows_the_timeline_in_the_event_logs_place_and_back() -> None:
    async def scenario() -> None:
        app = mqueue_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            timeline, log = app.query_one(Timeline), app.query_one(EventLog)
            assert (timeline.display, log.display) == (False, True)
            assert len(timeline.rows) == 9  # fed while hidden: whole when opened
            await pilot.press("T")
            await pilot.pause()
            assert (timeline.display, log.display) == (True, False)
            assert app.focused is timeline.query_one(TimelineLog)
            assert len(timeline.query_one(TimelineLog).lines) == 9
            await pilot.press("T")
            assert (timeline.display, log.display) == (False, True)

    asyncio.run(scenario())


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.press("T")
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES)
def test_timeline_snapshot(snap_compare, size) -> None:
    """mqueue_bounded at 4.8 s: messages that waited in the queue, the runtime's SIGKILL,
    the urgent message received last."""
    assert snap_compare(mqueue_app(), terminal_size=size, run_before=settle)


#: a sender and a receiver on a queue, both in tight loops
LIVE = """
duration: 60
channels:
  q: {kind: queue, capacity: 50}
workers:
  a: {loop: true, steps: [{send: {to: q, size: 8}}]}
  b: {loop: true, steps: [{receive: {from: q}}]}
"""


def test_the_timeline_follows_pause_and_step_of_a_live_run(scenario_file,
                                                           nothing_left_behind) -> None:
    """Real processes: the chart's messages are exactly those sent and received so far
    (min of the two counts), they stop while the run is paused (no row in five frames),
    a step adds what it moved, and the run going on adds more."""
    from ipcviz.tui.source import LiveSource
    from tests.test_tui_live import wait_for, wait_started

    source = LiveSource(str(scenario_file(LIVE)))

    def moved(app) -> int:
        return sum(r.arrow.count for r in app.query_one(Timeline).rows
                   if r.arrow is not None and r.arrow.kind == "message")

    def counted(app) -> int:
        snap = app.latest
        return min(snap.worker("a").messages_sent.get("q", 0),
                   snap.worker("b").messages_received.get("q", 0))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("T")
            await wait_for(pilot, lambda: counted(app) > 0)
            await pilot.press("space")
            await wait_for(pilot, lambda: app.latest.mode == "pause")
            seq = app.latest.seq
            await wait_for(pilot, lambda: app.latest.seq >= seq + 2)  # settled
            assert moved(app) == counted(app) > 0
            rows, seq = len(app.query_one(Timeline).rows), app.latest.seq
            await wait_for(pilot, lambda: app.latest.seq >= seq + 5)
            assert len(app.query_one(Timeline).rows) == rows  # paused: nothing new
            steps = app.latest.steps
            await pilot.press("n")
            await wait_for(pilot, lambda: app.latest.steps > steps)
            seq = app.latest.seq
            await wait_for(pilot, lambda: app.latest.seq >= seq + 2)
            assert moved(app) == counted(app)
            before = moved(app)
            await pilot.press("space")
            await wait_for(pilot, lambda: moved(app) > before + 100)
            assert len(app.query_one(TimelineLog).lines) == len(app.query_one(Timeline).rows)
            await pilot.press("q")
        assert source.leaks is not None and source.leaks["processes"] == 0

    asyncio.run(scenario())


def test_a_long_run_keeps_a_bounded_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel keeps its last MAX_ROWS rows and counts the dropped ones; the Sequence
    behind it hands its arrows over and keeps none (a live run is fed for hours)."""
    from ipcviz.tui.widgets import timeline as timeline_module

    monkeypatch.setattr(timeline_module, "MAX_ROWS", 50)
    panel, sequence = Timeline(), Sequence(run_clock=True)  # (the panel's clock)
    frames = read_recording(str(RECORDINGS / "speed_race.jsonl"))
    for _ in range(4):  # the counters start again each time: a restarted run's
        for snap in frames:
            panel.add(snap)
            sequence.add(snap)  # beside it, undrained: every arrow and mark of the run
    made = len(sequence.arrows) + len(sequence.marks) + len(sequence.waiting)
    assert made > 500
    assert len(panel.rows) == 50 and panel.dropped == made - 50
    kept = [r.arrow for r in panel.rows if r.arrow is not None]
    assert kept == sequence.arrows[-len(kept):]
    assert (panel.sequence.arrows, panel.sequence.marks, panel.sequence.waiting) == ([], [], [])
