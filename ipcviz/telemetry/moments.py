"""A recording read for its sequence of moments only: who was in which state, what each
counted, the events, the channels' counters. What `ipcviz export` turns into a trace.

A replay checks and escapes every value of every frame (telemetry/recording_file.py), the
64x64 array's 8,192 numbers of each frame included: for an export of a long run of many
workers that was ten times the whole conversion. Here each frame keeps only the fields
the trace is made of (KEPT, _WORKER_CHECKS, CHANNEL_KEPT), and those are checked: the
frame and its channels by the replay's own checker, each worker's dozen fields by a test
per field (below), so a value the export reads is of the type it expects and a bad one
refuses the file in one line naming its line. A value the export never reads (a shared
array's contents, a program's descriptors) is dropped unchecked.

Strings are not escaped here: the trace is JSON, which escapes every control character.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ipcviz.host.inputs import InputRefused, read_regular
from ipcviz.telemetry.recording_file import (
    MAX_FRAMES, MAX_RECORDING_BYTES, RecordingError, frame_problem, parse_recording,
)
from ipcviz.telemetry.snapshot import Snapshot

#: the frame fields kept (each worker's: _WORKER_CHECKS)
KEPT = frozenset({"scenario", "elapsed", "running", "workers", "channels", "events",
                  "parent_signals", "seq"})
#: a channel's `data` keys kept, by what the sequence and the counters read
CHANNEL_KEPT = frozenset({"buffered", "depth", "lost_updates", "server", "holders"})


def _text(value: Any) -> bool:
    return type(value) is str


def _text_or_null(value: Any) -> bool:
    return value is None or type(value) is str


def _counts(value: Any) -> bool:
    """A JSON object of whole numbers (a bool is no count)."""
    return type(value) is dict and all(type(v) is int for v in value.values())


def _waiting(value: Any) -> bool:
    """null, or [operation, object or null] (telemetry/snapshot.py's Waiting)."""
    return value is None or (type(value) is list and len(value) == 2
                             and type(value[0]) is str and _text_or_null(value[1]))


#: each kept worker field: how to tell a good value, and the words for a bad one (those
#: of the replay's checker); one test per field, since the general checker's walk of a
#: WorkerView's forty fields for these dozen was most of the reading's time at 64 workers
_WORKER_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (_text, "text"), "group": (_text, "text"), "state": (_text, "text"),
    "pid": (lambda v: v is None or type(v) is int, "a whole number or null"),
    "paused": (lambda v: v is True or v is False, "true or false"),
    "waiting": (_waiting, "null or a list of 2 (an operation and its object)"),
    "blocked_on": (_text_or_null, "text"),
    **{name: (_counts, "an object of whole numbers")
       for name in ("signals_received", "bytes_written", "bytes_read", "messages_sent",
                    "messages_received")},
}
_WORKER_REQUIRED = ("name", "group", "pid", "state")


def _kept_workers(workers: list[Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Each worker with only the kept fields, each checked: the workers, or the
    checker's words for the first bad one. One pass over the dozen kept names, not over
    each worker's forty fields."""
    out: list[dict[str, Any]] = []
    checks = _WORKER_CHECKS.items()
    for i, worker in enumerate(workers):
        if not isinstance(worker, dict):
            return out, f"workers[{i}]: should be an object"
        for name in _WORKER_REQUIRED:
            if name not in worker:
                return out, f"workers[{i}]: has no '{name}'"
        kept = {}
        for name, (good, words) in checks:
            if name in worker:
                value = kept[name] = worker[name]
                if not good(value):
                    return out, f"workers[{i}].{name}: should be {words}"
        out.append(kept)
    return out, None


def _trimmed(frame: Any) -> tuple[Any, str | None]:
    """The frame with only the kept fields, and the first problem of its workers (the
    rest of it is left for the replay's checker)."""
    if not isinstance(frame, dict):
        return frame, None
    out = {k: v for k, v in frame.items() if k in KEPT}
    problem = None
    workers = out.get("workers")
    if isinstance(workers, list):
        out["workers"], problem = _kept_workers(workers)
    elif workers is not None:
        problem = "workers: should be a list"
    channels = out.get("channels")
    if isinstance(channels, list):
        out["channels"] = [_trimmed_channel(c) for c in channels]
    return out, problem


def _trimmed_channel(channel: Any) -> Any:
    if not isinstance(channel, dict):
        return channel
    out = {k: v for k, v in channel.items() if k in ("name", "kind")}
    data = channel.get("data")
    out["data"] = ({k: v for k, v in data.items() if k in CHANNEL_KEPT}
                   if isinstance(data, dict) else data)
    return out


def read_moments(path: str) -> list[Snapshot]:
    """The Snapshots of the recording at `path`, with only the fields above; a file that
    is not a recording raises RecordingError in one line (the replay's words)."""
    try:
        raw = read_regular(path, MAX_RECORDING_BYTES, "recording")
    except InputRefused as exc:
        raise RecordingError(str(exc)) from None
    snapshots: list[Snapshot] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(snapshots) == MAX_FRAMES:
            raise RecordingError(f"{path}:{number}: more than {MAX_FRAMES:,} frames; a "
                                 "recording is limited to that")
        try:
            frame, problem = _trimmed(orjson.loads(line))
            if problem is None:  # the workers were checked as they were trimmed
                workers = frame.pop("workers", None) if isinstance(frame, dict) else None
                problem = frame_problem(frame)
                if workers is not None:
                    frame["workers"] = workers
        except (orjson.JSONDecodeError, RecursionError):
            problem = "?"
        if problem:  # the replay's reader says what is wrong in its own words
            parse_recording(b"\n" * (number - 1) + line, path)
            raise RecordingError(f"{path}:{number}: {problem}")  # (it found nothing)
        try:
            snapshots.append(Snapshot.from_dict(frame))
        except (TypeError, ValueError, LookupError, AttributeError) as exc:  # a safety net
            raise RecordingError(f"{path}:{number}: not a frame ({exc})") from None
    if not snapshots:
        raise RecordingError(f"{path}: has no frames (an empty file is not a recording)")
    return snapshots
