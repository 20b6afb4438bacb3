"""Words that are true on the frame that shows them: a signal sent and not yet handled is
in flight (pending), never "coalesced"; "coalesced" only for merges the counts prove."""

from __future__ import annotations

import json

from ipcviz.format import signal_gap_reason
from ipcviz.telemetry.snapshot import Snapshot, WorkerView
from ipcviz.tui.widgets.signals import signals_in_play, worker_reason

from .conftest import SCENARIOS, run_cli
from .test_time_control import in_process  # noqa: F401 (a fixture)

MASKS = {"pending": [], "shared_pending": [], "blocked": [], "ignored": [],
         "caught": ["SIGUSR1"]}


def _worker(**fields) -> WorkerView:
    base = dict(name="w", group="w", pid=100, state="sleeping",
                signals_sent_to={"SIGUSR1": 3}, signals_received={"SIGUSR1": 2},
                masks=MASKS, signals_merged={})
    return WorkerView(**{**base, **fields})


def test_a_signal_in_flight_is_not_called_coalesced() -> None:
    """3 sent, 2 received: the third is pending in the kernel (its handler has not run),
    or was delivered and is being counted; the frame said "coalesced: 1" either way."""
    pending = _worker(masks={**MASKS, "pending": ["SIGUSR1"]})
    assert worker_reason(pending, ["SIGUSR1"]) == (
        "SIGUSR1: in flight: pending in the kernel, its handler has not run yet")
    counting = _worker(state="running")
    assert worker_reason(counting, ["SIGUSR1"]) == (
        "SIGUSR1: in flight: sent, its handler has not counted it yet")
    # asleep and nothing pending, but the counts prove nothing yet (read out of order)
    assert worker_reason(_worker(), ["SIGUSR1"]) == (
        "SIGUSR1: in flight: sent, its handler has not counted it yet")


def test_coalesced_only_as_many_as_the_counts_prove() -> None:
    proven = _worker(signals_sent_to={"SIGUSR1": 50}, signals_received={"SIGUSR1": 1},
                     signals_merged={"SIGUSR1": 48})
    assert worker_reason(proven, ["SIGUSR1"]) == (
        "SIGUSR1: coalesced: 48 arrived while one was already pending (standard signals "
        "do not queue); 1 in flight")
    done = _worker(signals_sent_to={"SIGUSR1": 50}, signals_received={"SIGUSR1": 1},
                   signals_merged={"SIGUSR1": 49})
    assert worker_reason(done, ["SIGUSR1"]).startswith("SIGUSR1: coalesced: 49 arrived")
    # a proof never claims more than the frame's own gap
    assert signal_gap_reason("SIGUSR1", 5, 4, MASKS, None, False, merged=3).startswith(
        "coalesced: 1 arrived")


def test_an_old_recording_says_coalesced_only_when_its_frame_shows_nothing_in_flight(
        ) -> None:
    """Recordings made before the proof was data: the frame's own state decides."""
    old = dict(signals_merged=None)
    assert worker_reason(_worker(**old), ["SIGUSR1"]).startswith("SIGUSR1: coalesced: 1")
    assert "in flight" in worker_reason(_worker(state="running", **old), ["SIGUSR1"])
    assert "in flight" in worker_reason(
        _worker(masks={**MASKS, "shared_pending": ["SIGUSR1"]}, **old), ["SIGUSR1"])


STOPPED = """\
duration: 2.5
workers:
  w:
    handlers: {SIGUSR1: count}
    steps: [{sleep: 30}]
timeline:
  - {at: 0.3, stop: w}
  - {at: 0.5, signal: {to: w, sig: SIGUSR1}}
  - {at: 1.5, cont: w}
"""


def _frames(path) -> list[Snapshot]:
    return [Snapshot.from_dict(json.loads(line)) for line in path.read_text().splitlines()]


def test_a_signal_pending_at_a_stopped_worker_is_in_flight_on_every_frame(
        tmp_path, scenario_file, nothing_left_behind) -> None:
    """SIGUSR1 sent to a stopped worker stays pending until SIGCONT: every frame of that
    second called it "coalesced: 1" (nothing was merged); it is in flight, then counted."""
    out = tmp_path / "stopped.jsonl"
    result = run_cli("record", str(scenario_file(STOPPED)), "-o", str(out))
    assert result.returncode == 0, result.stderr
    words = [(f.elapsed, worker_reason(f.worker("w"), ["SIGUSR1"])) for f in _frames(out)]
    assert not [w for w in words if "coalesced" in w[1]], words
    pending = [t for t, w in words if w == "SIGUSR1: in flight: pending in the kernel, "
                                           "its handler has not run yet"]
    assert pending and min(pending) < 1.0 and max(pending) > 1.3, words
    last = _frames(out)[-1].worker("w")
    assert (last.signals_sent_to["SIGUSR1"], last.signals_received["SIGUSR1"]) == (1, 1)
    assert words[-1][1] == ""


def test_signals_coalescing_says_coalesced_once_the_merge_is_proven(
        tmp_path, nothing_left_behind) -> None:
    """The lesson: 50 SIGUSR1 sent while blocked, one received after the unblock. Blocked,
    the frames say so; "coalesced" appears only with the one delivery counted, and then
    exactly 49 (never 50: the pending one is not merged, it is in flight)."""
    out = tmp_path / "coalescing.jsonl"
    result = run_cli("record", str(SCENARIOS / "signals_coalescing.yaml"), "-o", str(out),
                     "--duration", "5")
    assert result.returncode == 0, result.stderr
    frames = _frames(out)
    said = []
    for f in frames:
        w = f.worker("standard")
        reason = worker_reason(w, signals_in_play(f))
        said.append((f.elapsed, reason))
        if "coalesced" in reason:
            assert w.signals_received.get("SIGUSR1") == 1, (f.elapsed, reason)
            assert reason.startswith("SIGUSR1: coalesced: 49 arrived"), (f.elapsed, reason)
            assert w.signals_merged == {"SIGUSR1": 49}
    assert said[-1][1].startswith("SIGUSR1: coalesced: 49 arrived"), said[-5:]
    blocked = [r for t, r in said if 1.2 < t < 3.8]
    assert blocked and all(r == "SIGUSR1: blocked: one pending bit, however many arrive"
                           for r in blocked), blocked


RENDEZVOUS = """\
duration: 30
channels:
  meet: {kind: queue, capacity: 0}
workers:
  p: {steps: [{send: {to: meet, data: "m"}}, {sleep: 30}]}
  c: {steps: [{sleep: 30}, {receive: {from: meet}}]}
"""


def test_a_rendezvous_shows_its_sender_waiting_not_a_depth_of_one(
        scenario_file, nothing_left_behind) -> None:
    """A queue of capacity 0 holds no message: the panel said "1 (rendezvous)" (of
    capacity 0) while the sender waited for a receiver, on every frame of queue_capacity."""
    from ipcviz.tui.widgets.queues import QueuesPanel

    from .test_channel_panels import panel_text, run_app
    from .waiting import until

    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("p").state == "blocked"
                    and "waiting for a receiver" in panel_text(app, QueuesPanel))
        text = panel_text(app, QueuesPanel)
        assert "queue meet  0 (rendezvous): sender waiting for a receiver" in text
        assert "1 (rendezvous)" not in text and " 1 / 0" not in text
        assert app.latest.worker("p").waiting == ("send", "meet")

    run_app(str(scenario_file(RENDEZVOUS)), check)


def _lock_frame(initial: int, holders: list[str]) -> Snapshot:
    from ipcviz.telemetry.snapshot import ChannelView, Holder, Waiting

    adder = _worker(name="adder.0", group="adder", state="blocked",
                    waiting=Waiting("acquire", "mutex"), signals_sent_to={},
                    signals_received={})
    other = _worker(name="adder.1", group="adder", state="running", signals_sent_to={},
                    signals_received={})
    data = {"value": initial - len(holders), "initial": initial,
            "holders": [Holder(h) for h in holders], "waiters": ["adder.0"]}
    return Snapshot("race", 1.0, True, workers=(adder, other),
                    channels=(ChannelView.of("mutex", "semaphore", data),))


def test_a_worker_never_waits_for_a_mutex_it_holds() -> None:
    """The worker's state is read before the mutex's holders: a frame caught adder.0
    "waiting for mutex (held by adder.0)". It got the mutex in between: it holds it."""
    from ipcviz.telemetry.views import SemaphoreView
    from ipcviz.tui.widgets.workers import state_cell

    frame = _lock_frame(1, ["adder.0"])
    assert state_cell(frame.worker("adder.0"), frame).plain == "acquired mutex"
    assert SemaphoreView.of(frame.channel("mutex")).waiting_now() == ()
    # held by the other one: waiting, and for whom
    frame = _lock_frame(1, ["adder.1"])
    assert state_cell(frame.worker("adder.0"), frame).plain == (
        "waiting for mutex (held by adder.1)")
    assert SemaphoreView.of(frame.channel("mutex")).waiting_now() == ("adder.0",)
    # a counting semaphore: holding one unit and waiting for another is real
    frame = _lock_frame(2, ["adder.0", "adder.1"])
    assert state_cell(frame.worker("adder.0"), frame).plain == (
        "waiting for mutex (held by adder.1) (it holds one already)")


def test_the_live_screen_shows_the_frames_own_numbers_and_words(
        scenario_file, nothing_left_behind) -> None:
    """Live too: while the stopped worker's SIGUSR1 is pending, the signals panel shows
    the frame's counts (0/1), its pending bit and the why line worked out from that very
    frame ("in flight", not "coalesced"); after SIGCONT, 1/1 and nothing to explain."""
    from ipcviz.tui.widgets.signals import SignalsPanel

    from .test_channel_panels import panel_text, run_app
    from .waiting import until

    def shown(app) -> str:
        return panel_text(app, SignalsPanel)

    async def check(pilot, app) -> None:
        def pending_now() -> bool:
            w = app.latest.worker("w")
            return (w.state == "stopped" and w.signals_sent_to.get("SIGUSR1") == 1
                    and "SIGUSR1" in w.masks.get("shared_pending", [])
                    + w.masks.get("pending", []))

        await until(pilot, lambda: pending_now() and "0/1" in shown(app))
        frame = app.latest
        w = frame.worker("w")
        why = worker_reason(w, signals_in_play(frame))
        assert why == "SIGUSR1: in flight: pending in the kernel, its handler has not run yet"
        text = shown(app)
        assert f"w {w.signals_received.get('SIGUSR1', 0)}/{w.signals_sent_to['SIGUSR1']}" \
            in " ".join(text.split()), text
        assert "USR1 (1 bit)" in text and why.split(": ", 1)[1] in text, text
        assert "coalesced" not in text
        await until(pilot, lambda: app.latest.worker("w").signals_received.get(
            "SIGUSR1") == 1 and "1/1" in shown(app))
        frame = app.latest
        assert worker_reason(frame.worker("w"), signals_in_play(frame)).startswith(
            "SIGCONT: ")  # SIGUSR1 needs no explaining now, on screen too
        assert "SIGUSR1:" not in shown(app) and "coalesced" not in shown(app)

    run_app(str(scenario_file(STOPPED.replace("duration: 2.5", "duration: 30"))), check)


def test_a_real_time_signal_not_yet_counted_is_in_flight() -> None:
    """Not "not delivered yet": it may have been delivered and be being counted."""
    assert signal_gap_reason("SIGRTMIN", 5, 3, MASKS, None, True) == (
        "in flight: queued or being counted (real-time signals do not merge)")


RESTARTED = b"""\
workers:
  w: {handlers: {SIGUSR1: count}, steps: [{sleep: 60}]}
  s:
    steps:
      - sleep: 0.2
      - repeat: {times: 3, steps: [{signal: {to: w, sig: SIGUSR1}}, {sleep: 0.05}]}
      - sleep: 60
"""


def test_a_restarted_worker_is_not_proven_to_have_merged_an_old_lifes_signals(
        in_process, nothing_left_behind) -> None:  # noqa: F811
    """s sent 3 SIGUSR1 to w's first life, all counted; after R, other workers' sends
    were counted for the whole run, so the new life looked sent 3, received 0, asleep:
    "coalesced: 3" (or "in flight"), for signals its old life had received."""
    from ipcviz.runtime.sampler import Sampler
    from ipcviz.runtime.supervisor import Runtime
    from ipcviz.scenario.load import load_text

    from .waiting import wait_until

    runtime = Runtime(load_text(RESTARTED, "restarted.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()
        w = next(p for p in runtime.procs if p.name == "w")

        def until(done) -> object:
            def sampled() -> object:
                runtime.poll(0.02)
                frame = sampler.sample()
                return frame if done(frame) else None

            return wait_until(sampled, 10, interval=0, message="the frame it waits for")

        first = until(lambda f: f.worker("w").signals_received.get("SIGUSR1") == 3)
        assert first.worker("w").signals_received == {"SIGUSR1": 3}
        old_pid = w.ident.pid
        runtime.restart(w)
        frames = []
        until(lambda f: frames.append(f) or (f.worker("w").pid != old_pid
                                              and f.worker("w").state == "sleeping"
                                              and len(frames) > 10))
        for f in frames:
            view = f.worker("w")
            assert not view.signals_merged, (f.elapsed, view.signals_merged)
            if view.pid != old_pid:  # the new life was sent none of them: nothing in flight
                assert (view.sent_this_life or {}).get("SIGUSR1", 0) == 0, view
                assert "SIGUSR1" not in worker_reason(view, signals_in_play(f))
    finally:
        sampler.close()
        runtime.shutdown()
