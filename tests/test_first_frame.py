"""The first frames of a run, with no earlier whole reading to show instead, read again
for about FIRST_WAIT in all, by the clock: a reading that is not whole has already
waited up to FIRST_WAIT for its workers, and on a loaded machine (256 busy workers at nice
19 beside other work) twenty such readings held the workers at their quiet points for
longer than the whole run was to last. Real runtime and worker; the reader's readings are
made never whole, as a machine too loaded to run the workers makes them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest

from ipcviz.runtime.moment import FIRST_WAIT, Moment
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text

BUSY = b"""\
channels:
  a: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  w: {loop: true, steps: [{increment: {array: a, index: 0}}]}
"""


def test_a_first_frame_never_whole_is_read_again_for_about_first_wait(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    runtime = Runtime(load_text(BUSY, "first.yaml"))
    try:
        runtime.start()
        sampler = Sampler(runtime)
        reads = 0

        def never_whole(arr: np.ndarray, rows: list[int], channels: Iterable[Any],
                        moving: Callable[[], list[int]] | None = None,
                        columns: int | None = None, patience: float | None = None
                        ) -> Moment:
            """A reading whose workers did not all come within its patience."""
            nonlocal reads
            reads += 1
            time.sleep(FIRST_WAIT if patience is None else patience)
            return Moment(arr[:, :columns].copy(), {c.name: c.observe() for c in channels},
                          whole=False)

        monkeypatch.setattr(sampler.moments, "read", never_whole)
        sampler.sample()
        # the first reading, then rereads while FIRST_WAIT has not passed since it
        assert reads == 2
        assert sampler.moments.stats.unsettled == 1  # shown all the same, and said so
    finally:
        runtime.shutdown()


def test_a_first_frame_that_breaks_a_relation_is_read_again_however_slow_each_reading(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    """Whole readings that break a relation (a sender whose send the kernel completed,
    counted once the machine's load lets it run) are taken again by their count, not by
    the clock: each has waited for no worker, and on a loaded machine each takes long
    (here a quarter of FIRST_WAIT), so a clock of FIRST_WAIT would show a first frame
    that breaks the relation where a few more readings find one that keeps it."""
    runtime = Runtime(load_text(BUSY, "first.yaml"))
    try:
        runtime.start()
        sampler = Sampler(runtime)
        reads = 0
        broken = 8

        def slow_whole(arr: np.ndarray, rows: list[int], channels: Iterable[Any],
                       moving: Callable[[], list[int]] | None = None,
                       columns: int | None = None, patience: float | None = None
                       ) -> Moment:
            """A whole reading, slow as on a loaded machine."""
            nonlocal reads
            reads += 1
            time.sleep(FIRST_WAIT / 4)
            return Moment(arr[:, :columns].copy(), {c.name: c.observe() for c in channels},
                          whole=True)

        monkeypatch.setattr(sampler.moments, "read", slow_whole)
        monkeypatch.setattr(sampler, "_broken", lambda channels: reads <= broken)
        sampler.sample()
        assert reads == broken + 1  # the first reading that keeps every relation is shown
        assert sampler.moments.stats.unsettled == 0
    finally:
        runtime.shutdown()
