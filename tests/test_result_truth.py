"""A bundled result line stays true on every frame of a real run, including the frames
after the moment the lesson is about (a pipe freed by the kernel, a worker ended)."""

from __future__ import annotations

import re

from ipcviz.scenario.load import load_scenario
from ipcviz.scenario.result_line import render
from ipcviz.telemetry.result_values import snapshot_lookups
from ipcviz.telemetry.summary import channel_entry

from .conftest import SCENARIOS
from .live import LiveRun

_PEAK = re.compile(r"^p peaked at (\d+)/(\d+) · writer exit (\S+) · stubborn's EPIPE errors "
                   r"(\d+)$")


def test_pipe_backpressure_says_nothing_a_freed_pipe_does_not_bear_out(
        nothing_left_behind) -> None:
    """Once the reader is killed, `p` has no end left and the kernel frees it with the
    bytes never read: the line may not say it holds them. On every frame it names the
    most `p` ever held, and ends at the full 16384 of 16384, writer ended by SIGPIPE."""
    template = load_scenario("pipe_backpressure").model.result
    seen: list[tuple[str, dict]] = []
    with LiveRun(str(SCENARIOS / "pipe_backpressure.yaml")) as run:
        def record(snap) -> bool:
            entry = dict(channel_entry(snap.channel("p")))
            seen.append((render(template, *snapshot_lookups(snap)), entry))
            stubborn = snap.worker("stubborn")
            return bool(entry.get("closed")) and bool(stubborn.epipe_errors)

        run.wait_for(record, timeout=60)
    closed = [(line, entry) for line, entry in seen if entry.get("closed")]
    assert closed, "the reader's death never closed p"
    for line, entry in seen:
        match = _PEAK.match(line)
        assert match, line
        assert int(match[1]) == entry["max_buffered"], (line, entry)
        assert int(match[2]) == entry["capacity"] == 16384
    line, entry = closed[-1]
    assert entry["unread_at_close"] == entry["buffered"] > 0
    match = _PEAK.match(line)
    assert (int(match[1]), match[3]) == (16384, "SIGPIPE")
    assert int(match[4]) > 0
