"""`ipcviz export RECORDING -o FILE`: a recording as a Chrome Trace Event JSON file, to open
in Perfetto (ui.perfetto.dev) or chrome://tracing (telemetry/trace_events.py says what is
in it). The recording is checked like a replay's, in what the trace is made of
(telemetry/moments.py: one line naming the first bad line); the output is written like every output file (host/outputs.py: never through a link,
never over another user's file)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from ipcviz.format import escape_control
from ipcviz.host.outputs import OutputRefused, output_problem, write_output

Fail = Callable[[list[str]], int]


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    """The `export` subcommand's arguments."""
    export = sub.add_parser(
        "export", help="write a recording as a trace for Perfetto or chrome://tracing",
        description="Write a recording made by `ipcviz record` as Chrome Trace Event JSON: "
                    "a track per worker with its states, arrows for messages, bytes and "
                    "signals from sender to receiver, counters for pipe buffers, queue "
                    "depths and lost updates. Open it in ui.perfetto.dev or "
                    "chrome://tracing.")
    export.add_argument("recording", metavar="RECORDING.jsonl")
    export.add_argument("-o", "--output", required=True, metavar="FILE.json")


def export_command(args: argparse.Namespace, fail: Fail) -> int:
    """Read, convert, write; every refusal is one line and exit status 2."""
    from ipcviz.telemetry.moments import read_moments
    from ipcviz.telemetry.recording_file import RecordingError
    from ipcviz.telemetry.trace_events import chrome_trace

    problem = output_problem(args.output)  # before reading what may be a big file
    if problem:
        return fail([problem])
    if _same_file(args.recording, args.output):
        return fail([f"{args.output}: is the recording itself; name another file for the "
                     "trace"])
    try:
        snapshots = read_moments(args.recording)
    except RecordingError as exc:
        return fail([str(exc)])
    trace = chrome_trace(snapshots)
    data = json.dumps(trace, separators=(",", ":")).encode()  # ensure_ascii: plain bytes
    try:
        write_output(args.output, data)
    except OutputRefused as exc:
        return fail([str(exc)])
    flows = sum(1 for e in trace["traceEvents"] if e["ph"] == "s")
    print(escape_control(f"exported {len(snapshots)} frames, {flows} arrows to "
                         f"{args.output}"), file=sys.stderr)
    return 0


def _same_file(recording: str, output: str) -> bool:
    """Whether the output names the recording (it would be replaced by its own trace)."""
    try:
        return os.path.samefile(recording, output)
    except OSError:  # one of them does not exist (yet): not the same
        return False
