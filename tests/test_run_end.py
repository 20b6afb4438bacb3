"""A run with a duration ends when its clock says: the session loop samples no frame and
observes no channel after the limit, even when the runtime wakes late from its wait (a
loaded machine, 256 busy workers, gives the runtime the CPU back tens of milliseconds
late), and begins no tick it could not read before the limit (at 256 workers a tick
reads /proc for tens of milliseconds, on a loaded machine for half a second). Such
frames were of moments after the run's end, and their readings delayed the final one.
Real runtime, real workers; only the wake-up is late, or the reading slow."""

from __future__ import annotations

import time

import pytest

from ipcviz.runtime.headless import run_headless
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.session import FRAME_INTERVAL, OBSERVE_INTERVAL
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from ipcviz.telemetry.snapshot import Snapshot

BUSY = b"""\
duration: 0.6
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  w: {count: 3, loop: true, steps: [{increment: {array: a, index: 0}}]}
"""

#: how late the runtime wakes from the wait that reaches the limit: longer than a frame's
#: interval and an observation's, so a turn after it finds both due
LATE_WAKE = 2 * max(FRAME_INTERVAL, OBSERVE_INTERVAL)


def test_a_late_wake_at_the_limit_samples_and_observes_nothing_more(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    limit = 0.6
    after_limit = {"observed": 0, "late_wakes": 0}
    real_poll, real_observe = Runtime.poll, Runtime.observe_channels

    def late_poll(self: Runtime, timeout: float, extra_fds: tuple[int, ...] = ()) -> list[int]:
        readable = real_poll(self, timeout, extra_fds)
        if self.started and self.scheduler.spent() >= limit and not after_limit["late_wakes"]:
            after_limit["late_wakes"] += 1
            time.sleep(LATE_WAKE)  # the machine gives the runtime the CPU back late
        return readable

    def counted_observe(self: Runtime) -> None:
        if self.started and self.scheduler.spent() >= limit:
            after_limit["observed"] += 1
        real_observe(self)

    monkeypatch.setattr(Runtime, "poll", late_poll)
    monkeypatch.setattr(Runtime, "observe_channels", counted_observe)
    frames: list[Snapshot] = []
    result = run_headless(load_text(BUSY, "run_end.yaml"), on_snapshot=frames.append)
    final, during = frames[-1], frames[:-1]
    assert after_limit["late_wakes"] == 1  # the limit was reached in a wait, woken late
    assert [f.elapsed for f in during if f.elapsed >= limit] == []
    assert after_limit["observed"] == 0
    assert final.elapsed >= limit + LATE_WAKE  # the final reading: after the late wake
    assert result.summary["duration_s"] >= limit
    assert result.summary["leaks"]["processes"] == result.summary["leaks"]["ipc_objects"] == 0


#: how long a tick's reading takes here: more than a frame's interval, as 256 workers'
#: /proc on a loaded machine
SLOW_TICK = 1.5 * FRAME_INTERVAL


def test_no_tick_is_begun_that_would_be_read_after_the_limit(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    limit = 0.6
    ticks: list[tuple[float, float]] = []  # (began, read) on the run's clock
    real_sample = Sampler.sample

    def slow_sample(self: Sampler, kernel: bool = True, flush: bool = False) -> Snapshot:
        began = self.runtime.elapsed
        snap = real_sample(self, kernel=kernel, flush=flush)
        if kernel and not flush:  # reading every process's /proc, slowly: each tick alike
            time.sleep(max(0.0, began + SLOW_TICK - self.runtime.elapsed))
            ticks.append((began, self.runtime.elapsed))
        return snap

    monkeypatch.setattr(Sampler, "sample", slow_sample)
    result = run_headless(load_text(BUSY, "run_end.yaml"))
    assert len([began for began, _ in ticks if began < limit]) >= 2  # read while it ran
    # (the final reading's first look at the workers, begun after the limit, is no tick)
    assert [read for began, read in ticks if began < limit < read] == []
    assert limit <= result.summary["duration_s"] < limit + SLOW_TICK
    assert result.summary["leaks"]["processes"] == result.summary["leaks"]["ipc_objects"] == 0


LONGER = BUSY.replace(b"duration: 0.6", b"duration: 1.5")


def test_one_tick_held_up_does_not_end_the_run_s_frames_early(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    """One tick the machine held up (here the second, 0.6 s) says nothing of the next:
    the ticks after it go on until the end nears. A run's frames stopped at that tick
    when the longest recent tick decided, and a loaded machine's recording had 3 frames."""
    limit, held_up = 1.5, 0.6
    ticks: list[float] = []  # when each tick began, on the run's clock
    real_sample = Sampler.sample

    def one_slow(self: Sampler, kernel: bool = True, flush: bool = False) -> Snapshot:
        began = self.runtime.elapsed
        snap = real_sample(self, kernel=kernel, flush=flush)
        if kernel and not flush:
            ticks.append(began)
            if len(ticks) == 2:
                time.sleep(held_up)
        return snap

    monkeypatch.setattr(Sampler, "sample", one_slow)
    result = run_headless(load_text(LONGER, "run_end.yaml"))
    assert len(ticks) >= 3
    # after the held-up tick ends (about 0.7 s), ticks go on past limit - held_up
    assert [t for t in ticks if limit - held_up < t < limit], ticks
    assert result.summary["leaks"]["processes"] == result.summary["leaks"]["ipc_objects"] == 0
