"""Pictures of the result line at 80x24 and 120x40: six lessons' recorded real runs,
each frame given the lesson's bundled `result:` template (the recordings predate it),
so the line is filled in from the frames as a live run's would be."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ipcviz.scenario.result_line import render
from ipcviz.telemetry.result_values import snapshot_lookups
from ipcviz.scenario.load import load_scenario
from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, read_recording, snapshots_until

RECORDINGS = Path(__file__).parent / "recordings"
SIZES = [pytest.param((120, 40), id="wide"), pytest.param((80, 24), id="narrow")]
#: lesson, moment, and the line that moment's frame gives (the run's own numbers)
MOMENTS = [
    ("signals_coalescing", 5.0,
     "standard counted 1 of 50 SIGUSR1 · realtime 50 of 50 SIGRTMIN+1"),
    ("sigchld_zombies", 4.5, "zombies: lazy 10, careful 0 · careful's SIGCHLD handled 10"),
    ("pipe_backpressure", 4.0,
     "p peaked at 16384/16384 · writer exit SIGPIPE · stubborn's EPIPE errors 20"),
    ("mqueue_bounded", 4.8, "jobs holds 0 of 5 (most 5) · sent 6, received 6"),
    ("deadlock", 4.0, "lock_a held by a (dead), lock_b by b · a exited, b blocked"),
    ("socket_echo", 3.0,
     "tcp_server read 80, wrote 80 · unix_server read 50, wrote 50"),
]


def frames_with_result(lesson: str, at: float):
    template = load_scenario(lesson).model.result
    frames = snapshots_until(read_recording(str(RECORDINGS / f"{lesson}.jsonl")), at)
    assert frames, f"no frames before {at} s in {lesson}"
    return [replace(frame, result=template) for frame in frames]


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("lesson,at,line", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_the_line_says_the_frames_numbers(lesson: str, at: float, line: str) -> None:
    """What the pictures show, as text: the recorded frame's own values."""
    frame = frames_with_result(lesson, at)[-1]
    assert render(frame.result, *snapshot_lookups(frame)) == line


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lesson,at,line", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_result_line_picture(snap_compare, lesson: str, at: float, line: str, size) -> None:
    app = make_app(source=FixedSource(frames_with_result(lesson, at)))
    assert snap_compare(app, terminal_size=size, run_before=settle)
