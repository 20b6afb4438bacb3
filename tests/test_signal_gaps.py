"""Every gap between the signals sent to a worker and those it counted is explained,
also after the worker has ended, and the event log never makes spaced sends read as a
burst (signals_handlers: spaced SIGUSR1 are all counted, a burst of 5 merges)."""

from __future__ import annotations

from ipcviz.protocol import decode
from ipcviz.telemetry.snapshot import EventView
from ipcviz.tui.widgets.events import Entry
from ipcviz.tui.widgets.signals import signals_in_play, worker_reasons

from .conftest import SCENARIOS
from .live import LiveRun


def _repeats(*times: float) -> str:
    entry = Entry(EventView(times[0], "counter", "timeline: SIGUSR1 sent", "signal"))
    for t in times[1:]:
        entry.add(EventView(t, "counter", "timeline: SIGUSR1 sent", "signal"))
    return entry.repeats_text()


def test_grouped_repeats_say_how_far_apart_they_were() -> None:
    assert _repeats(1.0) == ""
    assert _repeats(1.0, 1.001, 1.002, 1.002, 1.003) == " ×5"  # one burst
    assert _repeats(1.0, 1.1, 1.2, 1.3, 1.4) == " ×5, 100 ms apart"
    assert _repeats(1.0, 2.0, 3.0) == " ×3, 1.0 s apart"
    assert _repeats(1.0, 1.1, 2.5) == " ×3 over 1.50 s"  # uneven: the span, not a spacing


def test_signals_handlers_explains_the_merged_burst_after_the_end(nothing_left_behind) -> None:
    """The timeline's 20 SIGUSR1 100 ms apart are all counted; the trigger's 5 at once
    merge into the one pending. Once counter is killed, the why-lines still name both
    gaps: SIGKILL, and exactly sent - received SIGUSR1 coalesced."""
    with LiveRun(str(SCENARIOS / "signals_handlers.yaml")) as run:
        run.source.send(decode({"cmd": "time", "op": "resume"}))

        def twenty_counted(snap) -> bool:
            w = snap.worker("counter")
            return w.signals_received.get("SIGUSR1", 0) == 20 and snap.run_time < 4.0

        run.wait_for(twenty_counted, timeout=60)
        run.source.send(decode({"cmd": "trigger", "key": "x"}))
        snap = run.wait_for(lambda s: s.worker("counter").exit is not None, timeout=60)
        counter = snap.worker("counter")
        reasons = worker_reasons(counter, signals_in_play(snap))
    sent = counter.signals_sent_to["SIGUSR1"]
    received = counter.signals_received["SIGUSR1"]
    assert (sent, counter.exit) == (25, "SIGKILL")
    # 5 sent at once usually merge into the one pending; on a loaded machine the handler
    # can run between two of the sends, and then fewer (or none) merge: the words must
    # follow the count either way, "coalesced" only when something was
    assert 21 <= received <= 25, received
    merged = [f"SIGUSR1: coalesced: {sent - received} arrived while one was already "
              "pending (standard signals do not queue)"] if received < 25 else []
    assert reasons == ["SIGKILL: its default action killed the process", *merged]


def test_signals_sent_before_the_one_that_killed_are_not_called_unreceived() -> None:
    """sigaction_flags' `ignorer`: the first SIGINT came while SIGINT was ignored (the
    kernel discarded it), the second killed it. "Not received before it ended" was false
    for the first; the words name both ways a signal goes uncounted."""
    from ipcviz.format import signal_gap_reason

    reason = signal_gap_reason("SIGINT", 2, 0, {}, "SIGINT", realtime=False)
    assert reason == ("its default action killed the process; 1 more not counted "
                      "(discarded while ignored, or not handled before it ended)")
    assert signal_gap_reason("SIGINT", 1, 0, {}, "SIGINT", realtime=False) == (
        "its default action killed the process")
