"""`ipcviz record`, `ipcviz replay` and `ipcviz clean`: the commands around a run that are
not the run itself (kept out of cli.py, which parses and dispatches)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ipcviz.format import escape_control
from ipcviz.host.output import write_fully
from ipcviz.host.outputs import OutputRefused, open_output, output_problem

if TYPE_CHECKING:
    from ipcviz.telemetry.snapshot import Snapshot

Fail = Callable[[list[str]], int]

#: the fastest `replay --speed` (the keys' fastest playback speed is 16)
MAX_REPLAY_SPEED = 1000.0


def record_command(args: argparse.Namespace, headless: Callable, fail: Fail) -> int:
    """Every frame of a headless run as one JSON line; the file is written only once the
    run has started (nothing is created for a scenario or a --duration that is refused)."""
    problem = output_problem(args.output)  # a planted link or another's file: no run
    if problem:
        return fail([problem])
    from ipcviz.tui.event_words import event_words

    frames = 0
    out: int | None = None

    def write(snap: Snapshot) -> None:
        nonlocal frames, out
        if out is None:
            out = open_output(args.output)  # checked again on the open file
        frames += 1
        line = json.dumps(snap.to_dict(words=event_words), separators=(",", ":")) + "\n"
        write_fully(out, line.encode())  # whole, even to a pipe under signals

    try:
        result = headless(args, on_snapshot=write)
    except OutputRefused as exc:
        return fail([str(exc)])
    except OSError as exc:  # the output file could not be written
        return fail([f"{args.output}: cannot write the recording: {exc.strerror or exc}"])
    finally:
        if out is not None:
            os.close(out)
    if isinstance(result, int):
        return result
    print(escape_control(f"recorded {frames} frames to {args.output}"), file=sys.stderr)
    return 0


def replay_command(args: argparse.Namespace, fail: Fail) -> int:
    """A recording played back in the app; a file that is not one is refused in one line
    (naming its line) before the app starts (telemetry/recording_file.py)."""
    from ipcviz.telemetry.recording_file import RecordingError, read_recording

    if not 0 < args.speed <= MAX_REPLAY_SPEED:  # False for NaN
        return fail([f"--speed: {args.speed} is not a playback speed in (0, "
                     f"{MAX_REPLAY_SPEED:g}]"])
    try:
        snapshots = read_recording(args.recording)
    except RecordingError as exc:
        return fail([str(exc)])
    from ipcviz.tui.app import make_app
    from ipcviz.tui.replay import ReplaySource

    source = ReplaySource(snapshots, args.speed)
    app = make_app(source=source, handle_signals=True)
    try:
        app.run()
    finally:
        source.stop()
    code = app.return_code
    return 1 if code is None else int(code)


def clean_command(program_objects: bool, fail: Fail) -> int:
    """Sweep dead runs; what cannot be proven ours is listed as refused and left alone."""
    from ipcviz.host.sweep import sweep_dead_runs
    from ipcviz.host.runroot import RunRootError

    try:
        report = sweep_dead_runs()
    except RunRootError as exc:
        return fail([str(exc)])
    removed, refused = list(report.removed), list(report.refused)
    if program_objects:
        from ipcviz.host import program_leaks

        theirs, not_removed = program_leaks.remove()
        removed += theirs
        refused += not_removed
    for item in removed:  # names other programs chose: shown escaped
        print(escape_control(f"removed {item}"))
    for item in refused:
        print(escape_control(f"refused: {item}"), file=sys.stderr)
    print(f"{len(removed)} item(s) removed" if removed else "nothing to clean")
    return 0
