"""A worker's sleep is measured on the run clock, and the event log is dated on it.

The run clock stands still while the run is paused or stepped and runs at f in slow
motion; a `sleep: 1` is one second of it, so the times a lesson describes ("at 2 s the
writer...") hold however a person steps it, and every event carries the run clock's
time (`run_time`) beside the wall clock's (`t`). Real runs: the mechanism's tests drive
the runtime in this process and read its frames; the lessons' are driven as the app
drives them (n, n, a wait, space) through the real runtime process.
"""

from __future__ import annotations

import dataclasses
import json
import time

from ipcviz.protocol import ResumeRun, StepAll
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import clock_cell
from ipcviz.telemetry.recording_file import read_recording
from ipcviz.telemetry.sequence import Sequence
from ipcviz.telemetry.snapshot import EventView, Snapshot, WorkerView
from ipcviz.tui.widgets.events import Entry
from ipcviz.tui.widgets.workers import next_cell
from ipcviz.tui.event_words import event_words as said

from .conftest import ROOT, SCENARIOS, run_cli
from .live import LiveRun
from .test_time_control import in_process, poll_until  # noqa: F401 (a fixture)

#: how late an event may come after the run time it was due at: the worker's wake-up
#: and its first system calls, on a loaded machine (what the tests tell apart is seconds)
LATE = 0.4
#: the live view's pace of frames
FRAME_S = 0.1

SLEEP_THEN_SET = b"""
channels:
  a: {kind: shared_array, shape: [1]}
workers:
  w: {steps: [{sleep: 1}, {set: {array: a, value: 7}}]}
"""


class Frames:
    """An in-process runtime's frames, as the live view reads them: every event kept."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sampler = Sampler(runtime)
        self.events: list[EventView] = []

    def sample(self, flush: bool = False) -> Snapshot:
        snap = self.sampler.sample(flush=flush)
        self.events.extend(snap.events)
        return snap

    def poll_for(self, seconds: float) -> None:
        """Run the runtime's loop for `seconds` of wall time, a frame every FRAME_S."""
        end = time.monotonic() + seconds
        next_frame = 0.0

        def over() -> bool:
            nonlocal next_frame
            now = time.monotonic()
            if now >= next_frame:
                self.sample()
                next_frame = now + FRAME_S
            return now >= end

        poll_until(self.runtime, over, timeout=seconds + 10)

    def one(self, worker: str, text: str) -> EventView:
        found = [e for e in self.events if e.worker == worker and said(e).startswith(text)]
        assert len(found) == 1, (worker, text, self.events)
        return found[0]


def test_a_stepped_sleep_waits_for_the_run_clock(in_process, nothing_left_behind) -> None:
    """n grants w its `sleep: 1`; 1.5 s of stepping later it still sleeps (the run clock
    stood at 0); space: it wakes at run time 1.0, and the log says 1.0, not the wall's."""
    runtime = Runtime(load_text(SLEEP_THEN_SET, "sleep.yaml"), held=True)
    sched, frames = runtime.scheduler, Frames(runtime)
    w = None
    try:
        runtime.start()
        w = runtime.procs[0]
        poll_until(runtime, lambda: sched.settled() and all(sched.next_ops().values()))
        assert sched.step_all() == ["w"]
        poll_until(runtime, sched.settled)  # asleep on a clock that stands still
        frames.poll_for(1.5)
        snap = frames.sample()
        assert snap.worker("w").state == "sleeping"
        assert snap.channel("a").data["values"] == [0]
        assert runtime.run_time == 0.0
        sched.resume()
        poll_until(runtime, lambda: not w.alive)
        frames.sample(flush=True)
    finally:
        runtime.shutdown()
    step = frames.one("runtime", "step 1: w: sleep 1 s")
    wrote = frames.one("w", "wrote a")
    assert step.run_time == 0.0
    assert 1.0 <= wrote.run_time < 1.0 + LATE
    assert wrote.t - wrote.run_time >= 1.5  # the stepped time is not on the run clock
    assert frames.events.index(step) < frames.events.index(wrote)


def test_a_pause_mid_sleep_in_slow_motion_stops_the_sleep(in_process,
                                                          nothing_left_behind) -> None:
    """At speed 1/2, w sleeps a quarter of its second, the run pauses for 1.5 s (past the
    wall time the sleep would have ended at), then goes on: w wakes at run time 1.0,
    which at half speed is 1.5 s of wall time after the resume."""
    runtime = Runtime(load_text(SLEEP_THEN_SET, "sleep.yaml"), speed=0.5)
    sched, frames = runtime.scheduler, Frames(runtime)
    try:
        runtime.start()
        w = runtime.procs[0]
        poll_until(runtime, lambda: runtime.run_time >= 0.25)
        sched.pause()
        paused_at = runtime.run_time
        frames.poll_for(1.5)
        snap = frames.sample()
        assert snap.worker("w").state == "sleeping"
        assert snap.channel("a").data["values"] == [0]
        sched.resume()
        resumed = runtime.elapsed
        poll_until(runtime, lambda: not w.alive)
        frames.sample(flush=True)
    finally:
        runtime.shutdown()
    wrote = frames.one("w", "wrote a")
    assert 1.0 <= wrote.run_time < 1.0 + LATE
    assert wrote.t - resumed >= (1.0 - paused_at) / 0.5  # the rest, at half speed


def test_a_schedule_waits_for_the_sleep_it_granted(in_process, nothing_left_behind) -> None:
    """A schedule entry may grant a sleep: it runs on the schedule's time (the run clock
    stands still while a schedule plays, as the header's `step 2/2` says) and the next
    entry waits for it; every event of the schedule is dated run time 0."""
    runtime = Runtime(load_text(SLEEP_THEN_SET.replace(b"sleep: 1", b"sleep: 0.3"),
                                "sleep.yaml"), schedule=["w", "w"])
    sched, frames = runtime.scheduler, Frames(runtime)
    try:
        runtime.start()
        w = runtime.procs[0]
        poll_until(runtime, lambda: not w.alive)
        frames.sample(flush=True)
    finally:
        runtime.shutdown()
    assert sched.error is None and sched.performed == ["w", "w"]
    wrote = frames.one("w", "wrote a")
    assert wrote.run_time == 0.0 and wrote.t >= 0.3
    assert [e.run_time for e in frames.events if said(e).startswith("step ")] == [0.0, 0.0]


def test_a_recording_carries_both_clocks(tmp_path, nothing_left_behind) -> None:
    """`record` runs at full speed from the start: each event's run_time is its t (the
    two clocks agree), and each is a key of the event's JSON."""
    out = tmp_path / "notify.jsonl"
    result = run_cli("record", str(SCENARIOS / "shm_signal_notify.yaml"), "--duration", "2.5",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    events = [e for line in out.read_text().splitlines() for e in json.loads(line)["events"]]
    wrote = [e for e in events if e["worker"] == "writer" and e["text"].startswith("wrote")]
    assert len(wrote) == 2
    for event in events:
        assert abs(event["run_time"] - event["t"]) <= 0.002, event


def test_the_clock_cell_reads_back_what_was_written() -> None:
    """One int64 cell: a clock running at 1/64 since long before the machine booted (its
    origin negative), one standing still, one never written."""
    cell = clock_cell.running(now_us=1_000_000, clock_us=100_000_000, divisor=64)
    assert cell < 0 and -2**63 <= cell < 2**63
    assert clock_cell.read(cell, 1_000_000) == 100_000_000
    assert clock_cell.read(cell, 1_000_064) == 100_000_001
    assert clock_cell.divisor(cell) == 64
    still = clock_cell.stopped(2_500_000)
    assert clock_cell.read(still, 9**9) == 2_500_000 and clock_cell.divisor(still) is None
    assert clock_cell.read(0, 123) is None and clock_cell.divisor(0) is None


def repeats(*times: tuple[float, float]) -> str:
    """The grouped line of SIGUSR1 sends at (wall time, run time) each."""
    sent = [EventView(t, "w", "timeline: SIGUSR1 sent", "signal", run) for t, run in times]
    entry = Entry(sent[0])
    for event in sent[1:]:
        entry.add(event)
    return entry.repeats_text()


def test_grouped_repeats_are_a_burst_by_the_wall_and_spaced_by_the_run_clock() -> None:
    """Keys pressed 0.6 s apart while the run is held are no burst (each signal is handled
    before the next comes), though the run clock stood still; in slow motion (1/4) sends
    0.4 s apart on the wall are the file's 100 ms on the run clock."""
    assert repeats((5.0, 2.0), (5.6, 2.0), (6.2, 2.0)) == (
        " ×3, 600 ms apart (wall clock: the run was held)")
    assert repeats((1.0, 0.25), (1.4, 0.35), (1.8, 0.45)) == " ×3, 100 ms apart"
    assert repeats((1.0, 0.25), (1.001, 0.25), (1.002, 0.25)) == " ×3"


def test_a_sleeper_says_its_sleep_waits_for_the_run() -> None:
    """While the run is held the workers table's last column says what each worker does
    next; a sleeper `n` cannot move says why."""
    asleep = WorkerView("w", "w", 42, "sleeping", step_text="sleep")
    assert next_cell(asleep).plain == "- (asleep: space runs it)"
    assert next_cell(WorkerView("w", "w", 42, "sleeping", step_text="wait_signal")).plain == ""


def test_the_timeline_chart_counts_in_the_run_clock() -> None:
    """The `T` chart's times are the log's (the run clock's); export keeps the wall's.
    A recorded run, its frames given a run clock at half the wall's pace (slow motion):
    the signal's arrow is at half its wall time on the chart."""
    frames = [dataclasses.replace(
        snap, run_time=round(snap.elapsed / 2, 3),
        events=tuple(dataclasses.replace(e, run_time=round(e.t / 2, 3)) for e in snap.events))
        for snap in read_recording(str(ROOT / "tests" / "recordings" / "shm_signal_notify.jsonl"))]
    on_run, on_wall = Sequence(run_clock=True), Sequence()
    for snap in frames:
        on_run.add(snap)
        on_wall.add(snap)
    wall = [(a.sent_at, a.received_at) for a in on_wall.arrows]
    assert len(wall) == 1 and wall[0][0] >= 1.0
    assert [(a.sent_at, a.received_at) for a in on_run.arrows] == [
        (round(sent / 2, 3), round(received / 2, 3)) for sent, received in wall]


# ---------------------------------------------------------------- the audit's lessons


def n_n_wait_space(path: str, wait: float) -> LiveRun:
    """Open a held lesson as the live view does, press n, n, wait `wait` seconds of wall
    time, press space; returns the run (still open: the caller closes it)."""
    run = LiveRun(path)
    run.source.held = True
    run.__enter__()
    try:
        run.wait_for(lambda s: s.held_start and all(w.state == "held" for w in s.workers),
                     20)
        run.source.send(StepAll())
        stepped = run.wait_for(lambda s: s.steps > 0).elapsed
        run.wait_for(lambda s: s.elapsed >= stepped + 0.3)
        run.source.send(StepAll())
        run.wait_for(lambda s: s.elapsed >= stepped + wait, wait + 10)
        run.source.send(ResumeRun())
        run.wait_for(lambda s: s.mode == "run")
    except BaseException:
        run.__exit__()
        raise
    return run


def logged(run: LiveRun, worker: str, text: str) -> EventView:
    found = [e for e in run.events if e.worker == worker and said(e).startswith(text)]
    assert found, (worker, text, [(e.worker, said(e)) for e in run.events])
    return found[0]


def test_tcp_handshake_stepped_still_fills_the_accept_queue(nothing_left_behind) -> None:
    """Clients connect at 0.3 ... 1.2 s, the server accepts from 2 s: stepped and left
    waiting 2.5 s, the queue used to peak at 2 (the server's sleep had passed)."""
    run = n_n_wait_space(str(SCENARIOS / "tcp_handshake.yaml"), 2.5)
    try:
        last = run.wait_for(lambda s: not s.running and any(  # (its events may come later)
            e.worker == "server" and said(e).startswith("steps done") for e in run.events), 20)
    finally:
        run.__exit__()
    assert last.channel("door").data["max_accept_queue"] == 4
    served = logged(run, "server", "steps done")
    assert served.run_time >= 2.0 and served.t - served.run_time >= 2.5


def test_mqueue_bounded_consumer_starts_after_the_kill(nothing_left_behind) -> None:
    """The consumer "starts at 3 s": after the producer is killed at 1.5 s, and it takes
    the urgent message then (the audit saw it at run time 1.46 s, before the kill)."""
    run = n_n_wait_space(str(SCENARIOS / "mqueue_bounded.yaml"), 3.5)
    try:
        run.wait_for(lambda s: any(e.worker == "consumer" and "PRIORITY 9" in said(e)
                                   for e in run.events), 20)
    finally:
        run.__exit__()
    killed = logged(run, "producer", "killed by SIGKILL")
    urgent = logged(run, "consumer", "took a PRIORITY 9 message")
    assert 1.5 <= killed.run_time < 1.5 + LATE
    assert 3.0 <= urgent.run_time < 3.3 + LATE
    assert run.events.index(killed) < run.events.index(urgent)


def test_shm_signal_notify_writes_at_2_s(nothing_left_behind) -> None:
    run = n_n_wait_space(str(SCENARIOS / "shm_signal_notify.yaml"), 2.5)
    try:
        run.wait_for(lambda s: any(e.worker == "reader" and said(e).startswith("read board")
                                   for e in run.events), 20)
    finally:
        run.__exit__()
    wrote = logged(run, "writer", "wrote board: every element")
    read = logged(run, "reader", "read board")
    assert 2.0 <= wrote.run_time <= read.run_time < 2.0 + LATE
    assert run.events.index(wrote) < run.events.index(read)


def test_signals_coalescing_unblocks_at_4_s(nothing_left_behind) -> None:
    run = n_n_wait_space(str(SCENARIOS / "signals_coalescing.yaml"), 2.5)
    try:
        run.wait_for(lambda s: sum(said(e).startswith("unblocked") for e in run.events) == 2,
                     20)
    finally:
        run.__exit__()
    sent = logged(run, "standard", "timeline: SIGUSR1 ×50 sent")
    assert 1.0 <= sent.run_time < 1.0 + LATE
    for worker, sig in (("standard", "SIGUSR1"), ("realtime", "SIGRTMIN+1")):
        unblocked = logged(run, worker, f"unblocked {sig}")
        assert 4.0 <= unblocked.run_time < 4.0 + LATE


SLOW_CALL = b"""
channels:
  rpc: {kind: rpc, server: s}
workers:
  s: {steps: [{serve: rpc}]}
  c: {steps: [{call: {on: rpc, method: sleep, params: [0.5], timeout: 1}}]}
"""


def test_a_call_timeout_stands_still_with_the_server_sleep(in_process,
                                                           nothing_left_behind) -> None:
    """The server sleeps 0.5 s of run time before it answers, the caller waits 1 s of it:
    a pause of 1.5 s in between stops both, so the call is answered at run time 0.5 and
    never times out (a timeout on the wall clock ran out during the pause)."""
    runtime = Runtime(load_text(SLOW_CALL, "call.yaml"))
    sched, frames = runtime.scheduler, Frames(runtime)
    try:
        runtime.start()
        caller = next(p for p in runtime.procs if p.name == "c")
        poll_until(runtime, lambda: runtime.run_time >= 0.2)
        sched.pause()
        frames.poll_for(1.5)
        sched.resume()
        poll_until(runtime, lambda: not caller.alive)
        frames.sample(flush=True)
    finally:
        runtime.shutdown()
    assert not [e for e in frames.events if "NO ANSWER" in said(e)]
    answered = frames.one("c", "call #1 on rpc answered")
    assert 0.5 <= answered.run_time < 0.5 + LATE


def test_deadlock_kill_at_3_s_is_logged_at_3_s(nothing_left_behind) -> None:
    """The audit's example: "At 3 s the timeline kills a" was logged at 6.27 (the wall's)
    while the header said 6.9 s; the deadlock's time, on the screen and in the summary's
    deadlock_at, is the run clock's too."""
    run = n_n_wait_space(str(SCENARIOS / "deadlock.yaml"), 2.0)
    try:
        last = run.wait_for(lambda s: any(said(e) == "killed by SIGKILL" for e in run.events)
                            and s.deadlock_at is not None, 20)
    finally:
        run.__exit__()
    cycle = logged(run, "runtime", "DEADLOCK: ")
    killed = logged(run, "a", "killed by SIGKILL")
    assert 0.5 <= cycle.run_time < 1.5  # named once seen in two frames in a row
    assert last.deadlock_at == cycle.run_time
    assert 3.0 <= killed.run_time < 3.0 + LATE
    assert killed.t - killed.run_time >= 2.0
