"""The last frame of a run the clock ends is one moment: its counters are read once every
worker stands still, so a worker that took a semaphore while the runtime was bringing
them to a stop is among its holders there, and must not be shown still waiting for it
(the states of an earlier reading beside the counters of a later one showed exactly
that, once in a few loaded recordings of counting_semaphore).

The interleaving is driven on real processes: `a` takes `s`, then `b` waits in the
kernel for it; the reading before the final hold sees that; then `b`'s own step boundary is held
(as the final hold holds every worker's), `a` releases `s` and `b` takes it and stops at
its boundary; then the final reading."""

from __future__ import annotations

import os
import signal

from ipcviz.runtime.headless import final_frame
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T
from ipcviz.telemetry.invariants import check_frames
from tests.waiting import wait_until

TAKEN_WHILE_STOPPING = b"""\
duration: 60
channels:
  s: {kind: semaphore, value: 1}
workers:
  a:
    handlers: {SIGUSR1: count}
    steps: [{acquire: s}, {wait_signal: SIGUSR1}, {release: s}, {sleep: 60}]
  b:
    handlers: {SIGUSR2: count}
    steps: [{wait_signal: SIGUSR2}, {acquire: s}, {sleep: 60}]
"""


def _row(runtime: Runtime, name: str) -> int:
    return next(p.row for p in runtime.procs if p.name == name)


def _pid(runtime: Runtime, name: str) -> int:
    return next(p.ident.pid for p in runtime.procs if p.name == name and p.ident)


def test_a_semaphore_taken_while_the_run_stops_is_held_not_waited_for(
        nothing_left_behind) -> None:
    runtime = Runtime(load_text(TAKEN_WHILE_STOPPING, "final.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        a, b = _row(runtime, "a"), _row(runtime, "b")
        s = runtime.channel_by_name["s"].index
        acquired = runtime.table.layout.channel_cell(s, T.ACQUIRED)

        wait_until(lambda: arr[a, acquired] == 1 and arr[a, T.OP] == T.OP_WAIT_SIGNAL,
                   message="a holding s, waiting for its signal")
        os.kill(_pid(runtime, "b"), signal.SIGUSR2)  # b goes on to wait for s
        wait_until(lambda: arr[b, T.OP] == T.OP_ACQUIRE and int(arr[b, T.WAITS]) & 1 == 1,
                   message="b waiting for s")

        def b_takes_s_then_quiesce() -> None:
            arr[b, T.CTRL_PAUSE] |= T.PAUSE_WORKER  # what the final hold does to each row
            os.kill(_pid(runtime, "a"), signal.SIGUSR1)  # a releases s: b takes it and
            # stops at its boundary
            wait_until(lambda: arr[b, acquired] == 1 and arr[b, T.HELD] == 1,
                       message="b holding s, held at its boundary")
            runtime.quiesce()

        final = final_frame(sampler, b_takes_s_then_quiesce)
    finally:
        sampler.close()
        runtime.shutdown()
    assert [v.line() for v in check_frames([final])] == []
    worker_b, sem = final.worker("b"), final.channel("s")
    assert worker_b is not None and sem is not None
    assert [h[0] for h in sem.data["holders"]] == ["b"]
    assert sem.data["value"] == 0 and sem.data["held"] == 1
    # b was on its way to its next step when the final hold stopped it
    assert (worker_b.state, worker_b.waiting) == ("running", None)
