"""`ipcviz record`, `ipcviz replay` and `ipcviz clean`: the commands around a run that are
not the run itself (kept out of cli.py, which parses and dispatches)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ipcviz.format import escape_control
from ipcviz.host.output import write_fully

Fail = Callable[[list[str]], int]


def record_command(args: argparse.Namespace, headless: Callable, fail: Fail) -> int:
    """Every frame of a headless run as one JSON line; the file is written only once the
    run has started (nothing is created for a scenario or a --duration that is refused)."""
    frames = 0
    out = None

    def write(snap) -> None:
        nonlocal frames, out
        if out is None:
            out = open(args.output, "wb", buffering=0)
        frames += 1
        line = json.dumps(snap.to_dict(), separators=(",", ":")) + "\n"
        write_fully(out.fileno(), line.encode())  # whole, even to a pipe under signals

    try:
        result = headless(args, on_snapshot=write)
    except OSError as exc:  # the output file could not be made or written
        return fail([f"{args.output}: cannot write the recording: {exc.strerror or exc}"])
    finally:
        if out is not None:
            out.close()
    if isinstance(result, int):
        return result
    print(escape_control(f"recorded {frames} frames to {args.output}"), file=sys.stderr)
    return 0


def replay_command(args: argparse.Namespace, fail: Fail) -> int:
    from ipcviz.tui.app import make_app
    from ipcviz.tui.replay import ReplaySource
    from ipcviz.tui.source import read_recording

    try:
        snapshots = read_recording(args.recording)
    except (OSError, ValueError, TypeError) as exc:
        return fail([f"{args.recording}: not a recording ({exc})"])
    app = make_app(source=ReplaySource(snapshots, args.speed),
                   handle_signals=True)
    try:
        app.run()
    finally:
        app.source.stop()
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
    for item in removed:
        print(f"removed {item}")
    for item in refused:
        print(f"refused: {item}", file=sys.stderr)
    print(f"{len(removed)} item(s) removed" if removed else "nothing to clean")
    return 0
