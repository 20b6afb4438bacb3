"""The session loop's early-frame watch looks at the table only when an early frame could
go: not before the last frame is MIN_FRAME_GAP old or a command's hold is over, not after
the tick's early frame, and every WATCH_INTERVAL otherwise. Real runtime, real worker."""

from __future__ import annotations

import math

from ipcviz.host.process import become_subreaper
from ipcviz.runtime.session import MIN_FRAME_GAP, WATCH_INTERVAL, Session
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text


def test_the_watch_waits_until_a_look_could_show_something(nothing_left_behind) -> None:
    runtime = Runtime(load_text(b"workers:\n  w: {steps: [{sleep: 30}]}\n", "turns.yaml"))
    try:
        runtime.start()
        session = Session(runtime, lambda snap: None, early_frames=True)
        assert not runtime.looks_each_turn  # nothing here needs a turn to be noticed
        wait = session._watch_wait  # (now, last frame, command's hold until, early sent)
        assert math.isclose(wait(10.004, 10.0, 0.0, False), MIN_FRAME_GAP - 0.004)
        assert math.isclose(wait(10.004, 10.0, 10.050, False), 0.046)  # a command's hold
        assert wait(10.030, 10.0, 0.0, False) == WATCH_INTERVAL  # may send: look often
        assert wait(10.030, 10.0, 0.0, True) == math.inf  # the tick's early frame is spent
    finally:
        runtime.shutdown()
        become_subreaper(False)  # (as test_event_watch.py: later runtimes' orphans)
