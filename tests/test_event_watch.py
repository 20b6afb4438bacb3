"""The runtime's event watch: a counted signal is news (an early frame goes out at once),
an unchanged table is not. Real runtime, real worker, real signal."""

from __future__ import annotations

import signal
import time

from ipcviz.runtime.session import EventWatch
from ipcviz.host.process import become_subreaper
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T


def test_a_counted_signal_is_news_and_a_quiet_table_is_not(nothing_left_behind) -> None:
    text = b"workers:\n  w: {handlers: {SIGUSR1: count}}\n"
    runtime = Runtime(load_text(text, "watch.yaml"))
    try:
        runtime.start()
        row = runtime.procs[0].row
        deadline = time.monotonic() + 5
        while runtime.table.array[row, T.EVENT_SEQ] < 1 and time.monotonic() < deadline:
            runtime.poll(0.01)  # until the worker has started (its first event)
        runtime.take_events()
        watch = EventWatch(runtime)
        runtime.poll(0.05)
        runtime.take_events()
        assert not watch.happened()  # nothing new: no early frame

        runtime.send_signal("w", signal.SIGUSR1, 1)
        runtime.take_events()  # the runtime's own "sent" event is not what we wait for
        cell = T.SIG_RECEIVED + signal.SIGUSR1
        while runtime.table.array[row, cell] < 1 and time.monotonic() < deadline:
            runtime.poll(0.005)
        assert runtime.table.array[row, cell] == 1
        assert watch.happened()  # the worker counted it: frame now
        watch.framed()
        assert not watch.happened()  # shown; nothing newer
    finally:
        runtime.shutdown()
        # the runtime made this (pytest's) process a subreaper: give that up, or orphans of
        # later tests' runtimes would be re-parented here and never reaped
        become_subreaper(False)
