"""The final reading of a run that is still going waits only for what can still move a
count: a worker with no signal handler of its own never has a delivery in flight, however
often it is on the CPU (with hundreds of busy workers one is almost always runnable, and
the reading waited for a moment none was, up to its limit, and then was not exact)."""

from __future__ import annotations

import time

import pytest

from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry import table as T
from tests.waiting import wait_until

BUSY = b"""\
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  busy: {loop: true, steps: [{increment: {array: a, index: 0}}]}
  counting: {handlers: {SIGUSR1: count}, steps: [{sleep: 60}]}
"""


def _state(runtime: Runtime, name: str) -> str | None:
    from ipcviz.host.process import read_stat

    proc = next(p for p in runtime.procs if p.name == name)
    assert proc.ident is not None
    stat = read_stat(proc.ident.pid)
    return None if stat is None else stat.state


def _running(runtime: Runtime, name: str) -> bool:
    return _state(runtime, name) == "R"


def test_a_busy_worker_without_handlers_has_no_signal_in_flight(nothing_left_behind) -> None:
    runtime = Runtime(load_text(BUSY, "final.yaml"))
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        busy = next(p for p in runtime.procs if p.name == "busy")
        counting = next(p for p in runtime.procs if p.name == "counting")
        # busy has started its loop, and counting (which has a handler, so a delivery to
        # it could be in flight) sleeps in its step: starting up, it was on the CPU too
        wait_until(lambda: arr[busy.row, T.EVENT_SEQ] >= 1
                   and int(arr[counting.row, T.WAITS]) & 1
                   and _state(runtime, "counting") == "S", timeout=20,
                   message="busy in its loop and counting asleep in its step")
        assert _running(runtime, "busy")  # in its loop: on the CPU or waiting for it
        assert not runtime.cleaner.signals_in_flight()
    finally:
        runtime.shutdown()


def test_a_busy_run_quiesces_held_workers_looking_seldom(nothing_left_behind) -> None:
    """Held for the final reading, each worker stands at its boundary with its counts
    still, and looks at its cell every POLL_SECONDS (not every POLL_FAST, as a worker a
    schedule may grant a step does: 256 of them doing that took the CPU from the rest)."""
    from ipcviz.worker.boundary import POLL_SECONDS

    text = BUSY.replace(b"  busy: {", b"  busy: {count: 8, ")
    runtime = Runtime(load_text(text, "final.yaml"))
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        rows = [p.row for p in runtime.procs if p.name.startswith("busy")]
        assert len(rows) == 8
        wait_until(lambda: (arr[rows, T.EVENT_SEQ] >= 1).all(), timeout=20,
                   message="every busy worker in its loop")  # held while busy, not starting
        assert runtime.quiesce()
        assert all(arr[r, T.HELD] == 1 for r in rows)  # each held at its boundary
        counters = slice(T.SIG_RECEIVED, runtime.table.layout.event_base)
        counted, waits = arr[rows, counters].copy(), arr[rows, T.WAITS].copy()
        started = time.monotonic()
        time.sleep(0.2)  # no condition: the window the looks are counted in (their rate)
        looks = (arr[rows, T.WAITS] - waits) // 2  # each look is one wait: two cells
        elapsed = time.monotonic() - started
        assert (arr[rows, counters] == counted).all()  # held: no count moves
        # a sleep is never shorter than asked: at most one look per POLL_SECONDS, plus
        # the one under way at each end
        assert looks.max() <= elapsed / POLL_SECONDS + 2, looks
    finally:
        runtime.shutdown()


class _WakesDuringReading:
    """A channel whose reading lasts while the workers of `rows` look at their cells once
    (their WAITS cell moves by two), and, with `take`, take a grant."""

    name = "c"

    def __init__(self, arr, rows: list[int], take: bool = False):
        self.arr, self.rows, self.take = arr, rows, take

    def observe(self) -> dict:
        self.arr[self.rows, T.WAITS] += 2
        if self.take:
            self.arr[self.rows, T.TAKEN] += 1
        return {}


def test_a_reading_of_held_workers_is_whole_when_they_look_at_their_cells() -> None:
    """A held worker's waits are looks at its cell: one ending during a reading moved
    nothing, and the reading stays whole (with hundreds of held workers one always looks
    during a reading: the final reading of a big run was never whole, and the summary
    showed an earlier moment). A wait that ends in a worker not held, or a grant taken,
    still makes the reading not whole."""
    import numpy as np

    from ipcviz.runtime.moment import MomentReader

    width = T.Layout(channels=1, rows=4, sent_slots=0).width
    arr = np.zeros((4, width), dtype=np.int64)
    arr[:, T.WAITS] = 1  # each waits with everything counted
    arr[:2, T.HELD] = 1  # the first two are held at their boundary
    reader = MomentReader()
    assert reader.read(arr, [0, 1], [_WakesDuringReading(arr, [0, 1])]).whole
    assert not reader.read(arr, [0, 1, 2], [_WakesDuringReading(arr, [2])]).whole
    assert not reader.read(arr, [0, 1], [_WakesDuringReading(arr, [0], take=True)]).whole


def test_a_worker_whose_steps_are_done_is_not_waited_for() -> None:
    """A worker past its last step (OP_DONE) is on its way out of the process: it reaches
    no quiet point again, but it has counted everything. Waiting for it made the last
    reading of a scheduled run not whole, and the summary showed the counts of an earlier
    moment (an array at 0 after two increments). A worker still at work and not at a
    quiet point keeps the reading from being whole."""
    import numpy as np

    from ipcviz.runtime.moment import MomentReader

    width = T.Layout(channels=1, rows=3, sent_slots=0).width
    arr = np.zeros((3, width), dtype=np.int64)
    arr[0, T.OP] = T.OP_DONE  # done, neither frozen nor in a wait
    arr[1, T.WAITS] = 1  # waits with everything counted
    arr[2, T.OP] = T.OP_INCREMENT  # at work
    reader = MomentReader()
    assert reader.read(arr, [0, 1], [], patience=0.001).whole
    assert not reader.read(arr, [0, 1, 2], [], patience=0.001).whole


def test_a_scheduled_run_ends_with_the_counts_of_its_end(nothing_left_behind) -> None:
    """The summary of a scheduled run that stops at an error: the last reading is taken
    again until it is whole, never replaced by an earlier moment. a's four operations are
    two increments, b's load leaves the array alone, then a (exited) cannot move."""
    from ipcviz.runtime.headless import run_headless

    text = (b"duration: 5\nchannels:\n  counter: {kind: shared_array, shape: [1]}\n"
            b"workers:\n  a: {steps: [{increment: {array: counter, times: 2}}]}\n"
            b"  b: {steps: [{increment: {array: counter, times: 2}}]}\n")
    for _ in range(3):
        summary = run_headless(load_text(text, "schedule.yaml"),
                               schedule=["a", "a", "a", "a", "b", "a"]).summary
        assert summary["schedule_error"]["index"] == 5
        counter = summary["channels"]["counter"]
        assert (counter["increments"], counter["values"]) == (2, [2])


def _looks_of_quiesce(runtime: Runtime, rows: list[int],
                      monkeypatch: pytest.MonkeyPatch) -> tuple[bool, int]:
    """Hold the workers of `rows` and wait until each stands at its boundary, then
    quiesce: whether it called the reading exact, and how many looks at the table it
    took (one reap per look)."""
    assert runtime.table is not None
    arr = runtime.table.array
    arr[rows, T.CTRL_PAUSE] |= T.PAUSE_WORKER
    wait_until(lambda: (arr[rows, T.HELD] == 1).all(), timeout=20,
               message="every worker held at its boundary")
    looks = 0
    reap = runtime.workers.reap

    def counted_reap() -> None:
        nonlocal looks
        looks += 1
        reap()

    monkeypatch.setattr(runtime.workers, "reap", counted_reap)
    return runtime.quiesce(), looks


def test_held_workers_without_handlers_are_final_at_the_first_still_look(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    """Held at their boundaries with no handler of their own, busy workers cannot count
    anything again: one still look is enough, where workers on their way need three."""
    text = b"""\
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  busy: {count: 8, loop: true, steps: [{increment: {array: a, index: 0}}]}
"""
    runtime = Runtime(load_text(text, "final.yaml"))
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        rows = [p.row for p in runtime.procs]
        wait_until(lambda: (arr[rows, T.EVENT_SEQ] >= 1).all(), timeout=20,
                   message="every busy worker in its loop")
        exact, looks = _looks_of_quiesce(runtime, rows, monkeypatch)
        assert exact and looks == 1
    finally:
        runtime.shutdown()


def test_a_worker_with_a_handler_still_takes_three_still_looks(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    """A worker that counts deliveries (here asleep in its step, not held) could still be
    counting one the kernel has not shown: three still looks, as before."""
    runtime = Runtime(load_text(BUSY, "final.yaml"))
    try:
        runtime.start()
        assert runtime.table is not None
        arr = runtime.table.array
        busy = next(p for p in runtime.procs if p.name == "busy")
        counting = next(p for p in runtime.procs if p.name == "counting")
        wait_until(lambda: arr[busy.row, T.EVENT_SEQ] >= 1
                   and int(arr[counting.row, T.WAITS]) & 1
                   and _state(runtime, "counting") == "S", timeout=20,
                   message="busy in its loop and counting asleep in its step")
        exact, looks = _looks_of_quiesce(runtime, [busy.row], monkeypatch)
        assert exact and looks == 3
    finally:
        runtime.shutdown()
