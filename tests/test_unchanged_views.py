"""A live run's unchanged workers keep their view objects, and the per-worker panels look
again only at the workers whose view is new, still showing every change around them.

The decoder (tui/frame_decoder.py) gives a worker whose wire form did not change the very
view of the frame before; the workers table and the signals panel then work out rows and
activity only for the moved workers (and the table for those waiting on a semaphore,
whose rows show its holders)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

from ipcviz.channels.lock_state import Holder
from ipcviz.telemetry.snapshot import ChannelView, Snapshot, Waiting, WorkerView
from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, LiveSource
from ipcviz.tui.widgets import signals as signals_module
from ipcviz.tui.widgets import workers as workers_module
from ipcviz.telemetry.moved import moved_workers
from ipcviz.tui.widgets.signals import SignalsPanel
from ipcviz.tui.widgets.status import StatusBar
from ipcviz.tui.widgets.workers import WorkersTable
from tests.waiting import until

LIVE = """
duration: 30
channels:
  p: {kind: pipe}
  q: {kind: pipe}
workers:
  sleeper: {steps: [{sleep: 60}]}
  once: {steps: [{write: {to: q, size: 64}}, {sleep: 60}]}
  taker: {steps: [{read: {from: q, bytes: 64}}, {sleep: 60}]}
  writer: {loop: true, steps: [{write: {to: p, size: 64}}, {sleep: 0.02}]}
  reader: {loop: true, steps: [{read: {from: p, bytes: 64}}]}
"""
FRAMES = 20


def live_frames(scenario_file) -> list[Snapshot]:
    """The last FRAMES frames of LIVE, as the live reader hands them to the app (every
    worker started by then, and asleep or moving)."""
    frames: list[Snapshot] = []
    enough = threading.Event()

    def arrived(snap: Snapshot) -> None:
        frames.append(snap)
        if len(frames) >= FRAMES + 10:
            enough.set()

    source = LiveSource(str(scenario_file(LIVE)))
    source.start(arrived, print)
    try:
        assert enough.wait(30), f"{len(frames)} frames"
    finally:
        source.stop()
    return frames[-FRAMES:]


def test_a_live_run_keeps_the_views_of_unchanged_workers(scenario_file,
                                                          nothing_left_behind) -> None:
    frames = live_frames(scenario_file)
    for snap in frames:  # each frame is what a fresh decode of its wire form makes
        assert Snapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    reused = {"sleeper": 0, "writer": 0}
    for before, after in zip(frames, frames[1:]):
        for name in reused:
            old, new = before.worker(name), after.worker(name)
            assert (old is new) == (old == new), name  # equal: the same view; else new
            reused[name] += old is new
    # the sleeper's view never changes once asleep; the writer's counts move every frame
    assert reused == {"sleeper": FRAMES - 1, "writer": 0}
    assert moved_workers(frames[-2], frames[-1]) == [
        i for i, w in enumerate(frames[-1].workers) if w.name not in ("sleeper", "once", "taker")]


def test_the_timeline_looks_again_only_at_moved_workers(scenario_file, nothing_left_behind,
                                                        monkeypatch) -> None:
    """The same frames, with their views shared as the decoder shares them and decoded
    afresh: the same arrows and marks; the counters of `once` (64 bytes written, then
    asleep) are looked at in the first frame only when its view is kept."""
    from ipcviz.telemetry import sequence as sequence_module

    frames = live_frames(scenario_file)
    fresh = [Snapshot.from_dict(json.loads(json.dumps(f.to_dict()))) for f in frames]
    looked: list[str] = []
    grown = sequence_module.Sequence._grown

    def counted(self, worker: str, counter: str, key: str, value: int) -> int:
        looked.append(worker)
        return grown(self, worker, counter, key, value)

    monkeypatch.setattr(sequence_module.Sequence, "_grown", counted)
    drawn = []
    for run in (frames, fresh):
        looked.clear()
        sequence = sequence_module.Sequence(run_clock=True)
        for snap in run:
            sequence.add(snap)
        drawn.append((sequence.drain(), sequence.unpaired()))
        assert looked.count("once") == (1 if run is frames else FRAMES)
    assert drawn[0] == drawn[1]


def _frames() -> list[Snapshot]:
    """Six hand-made frames of 40 workers, where only `busy` and the semaphore move: the
    other views are the very objects of the frame before, as the decoder hands them on.
    `waiter` waits for the mutex, whose holder changes; `child` has exited in frame 3,
    in frame 4 it is spawned again by `idle3` (a parent's row says so) and in frame 5
    the run is paused."""
    idle = [WorkerView(f"idle{i}", "idle", 100 + i, "sleeping", step_text="sleep")
            for i in range(37)]
    waiter = WorkerView("waiter", "waiter", 90, "blocked", waiting=Waiting("acquire", "m"))
    frames = []
    for n in range(6):
        busy = WorkerView("busy", "busy", 91, "running", cpu=float(n),
                          signals_received={"SIGUSR1": n} if n >= 2 else {})
        holder = "idle1" if n < 3 else "idle2"
        mutex = ChannelView.of("m", "semaphore", {
            "value": 0, "initial": 1, "holders": [Holder(holder)], "waiters": ["waiter"]})
        child = WorkerView("child", "child", 92, "exited" if n == 3 else "sleeping",
                           parent="idle3" if n >= 4 else None)
        frames.append(Snapshot("t", float(n), True, workers=(waiter, busy, child, *idle),
                               channels=(mutex,), mode="pause" if n == 5 else "run"))
    return frames


def _table_text(app) -> list[str]:
    table = app.query_one(WorkersTable)
    return [table.render_line(y).text for y in range(table.size.height)]


def test_the_table_and_signals_look_again_only_at_moved_workers(monkeypatch) -> None:
    frames = _frames()
    keys: list[str] = []
    activity: list[str] = []
    row_key, has_activity = workers_module.row_key, signals_module.has_signal_activity

    def counted_key(w: WorkerView, snap: Snapshot) -> tuple:
        keys.append(w.name)
        return row_key(w, snap)

    def counted_activity(w: WorkerView) -> bool:
        activity.append(w.name)
        return has_activity(w)

    monkeypatch.setattr(workers_module, "row_key", counted_key)
    monkeypatch.setattr(signals_module, "has_signal_activity", counted_activity)

    async def scenario() -> None:
        app = make_app(source=FixedSource(frames[:1]))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is frames[0])
            table, panel = app.query_one(WorkersTable), app.query_one(SignalsPanel)
            status = app.query_one(StatusBar)
            assert len(keys) == len(activity) == 40  # the first frame: every worker
            for n in range(1, 4):
                keys.clear()
                activity.clear()
                table.snapshot = panel.snapshot = status.snapshot = frames[n]
                alive = 39 if n == 3 else 40
                assert f"{alive}/40 workers alive" in status.render().plain
                # busy and child moved (new objects); waiter's row shows the holders
                assert sorted(keys) == ["busy", "child", "waiter"]
                assert sorted(activity) == ["busy", "child"]
            await pilot.pause()
            lines = _table_text(app)
            assert any("waiting for m (held by idle2)" in line for line in lines), lines
            assert any("3/0" in line.plain for line in panel._text_lines)
            keys.clear()
            table.snapshot = status.snapshot = frames[4]  # a new parent: every row again
            assert len(keys) == 40
            assert "40/40 workers alive" in status.render().plain
            keys.clear()
            table.snapshot = frames[5]  # paused: every row says what comes next
            assert len(keys) == 40
            await pilot.pause()
            lines = _table_text(app)
            assert any("idle3" in line and "zombies" in line for line in lines), lines

    asyncio.run(scenario())


def test_moved_workers_is_none_when_the_workers_are_not_listed_alike() -> None:
    frames = _frames()
    assert moved_workers(None, frames[0]) is None
    fewer = dataclasses.replace(frames[1], workers=frames[1].workers[:-1])
    assert moved_workers(frames[0], fewer) is None
    turned = dataclasses.replace(frames[1], workers=frames[1].workers[::-1])
    assert moved_workers(frames[0], turned) is None
    assert moved_workers(frames[0], frames[1]) == [1, 2]
    assert moved_workers(frames[1], frames[1]) == []
