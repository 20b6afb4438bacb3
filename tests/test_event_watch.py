"""The runtime's event watch: a counted signal is news (an early frame goes out at once),
an unchanged table is not. Real runtime, real worker, real signal."""

from __future__ import annotations

import signal

from ipcviz.runtime.session import EventWatch
from ipcviz.host.process import become_subreaper
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T
from tests.waiting import wait_until


def driven_until(runtime: Runtime, done, poll: float, message: str) -> None:
    """Run the runtime's loop (in this process) until `done()` holds."""
    def reached() -> bool:
        if done():
            return True
        runtime.poll(poll)
        return False

    wait_until(reached, 5, interval=0, message=message)


def test_a_counted_signal_is_news_and_a_quiet_table_is_not(nothing_left_behind) -> None:
    text = b"workers:\n  w: {handlers: {SIGUSR1: count}}\n"
    runtime = Runtime(load_text(text, "watch.yaml"))
    try:
        runtime.start()
        row = runtime.procs[0].row
        driven_until(runtime, lambda: runtime.table.array[row, T.EVENT_SEQ] >= 1, 0.01,
                     "the worker's first event (it has started)")
        runtime.take_events()
        watch = EventWatch(runtime)
        runtime.poll(0.05)
        runtime.take_events()
        assert not watch.happened()  # nothing new: no early frame

        runtime.send_signal("w", signal.SIGUSR1, 1)
        runtime.take_events()  # the runtime's own "sent" event is not what we wait for
        cell = T.SIG_RECEIVED + signal.SIGUSR1
        driven_until(runtime, lambda: runtime.table.array[row, cell] >= 1, 0.005,
                     "the worker to count the signal")
        assert runtime.table.array[row, cell] == 1
        assert watch.happened()  # the worker counted it: frame now
        watch.framed()
        assert not watch.happened()  # shown; nothing newer
    finally:
        runtime.shutdown()
        # the runtime made this (pytest's) process a subreaper: give that up, or orphans of
        # later tests' runtimes would be re-parented here and never reaped
        become_subreaper(False)
