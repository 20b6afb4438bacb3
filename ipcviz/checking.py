"""`ipcviz replay FILE --check`: the relations every frame keeps (telemetry/invariants.py),
checked over a recording instead of played back."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ipcviz.format import escape_control

Fail = Callable[[list[str]], int]


def check_command(path: str, fail: Fail) -> int:
    """Print the first frame that breaks a rule, one line per broken rule, and how many
    frames broke one (exit 1); or "N frames, 0 violations" (exit 0)."""
    from ipcviz.telemetry.invariants import check_frames
    from ipcviz.tui.source import read_recording

    try:
        frames = read_recording(path)
    except (OSError, ValueError, TypeError) as exc:
        return fail([f"{path}: not a recording ({exc})"])
    first: list[str] = []
    first_frame = None
    bad_frames: set[int] = set()
    count = 0
    for violation in check_frames(frames):
        count += 1
        bad_frames.add(violation.frame)
        if first_frame is None:
            first_frame = violation.frame
        if violation.frame == first_frame:
            first.append(escape_control(violation.line()))
    for line in first:
        print(line)
    if count:
        print(f"{len(frames)} frames, {count} violations in {len(bad_frames)} frames "
              f"(the first shown)", file=sys.stderr)
        return 1
    print(f"{len(frames)} frames, 0 violations")
    return 0
