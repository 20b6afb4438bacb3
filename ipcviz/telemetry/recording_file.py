"""Reading a recording (`ipcviz record`'s JSON lines) that may come from anyone.

A recording is replayed from a file someone handed over: it can be empty, cut, not JSON,
JSON of the wrong shape (a list where a frame goes, a string where a count goes), huge, a
FIFO or /dev/zero. Everything the viewer later draws trusts a Snapshot's types, so the
check happens here, once, before the app starts:

- the file is read as a size-limited regular file, non-blocking (host/inputs.py);
- each line is decoded as strict JSON (no NaN or Infinity, no number too big for a float)
  and checked against the Snapshot classes' own type hints (telemetry/snapshot.py), so a
  field added there is checked without a second list to keep; fields this version does
  not know are left out, as `Snapshot.from_dict` does for a newer runtime's frames;
- the first problem refuses the whole file, in one line naming its line number.

Strings are escaped as they are decoded (format.escape_tree): a recording's text reaches
the terminal only as visible characters.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import types
import typing
from typing import Any

from ipcviz.format import escape_tree
from ipcviz.host.inputs import InputRefused, read_regular
from ipcviz.telemetry import snapshot as snapshot_module
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.telemetry.wire_types import (
    CHANNEL_DATA, FIELD_TYPES, PROGRAM_FACTS, Check, DictOf, Either, ListOf, Record,
    shared_array_problem,
)

#: the largest recording replayed (an hour of a busy lesson is a few hundred MB less)
MAX_RECORDING_BYTES = 256 * 1024 * 1024
#: the most frames replayed (a day's run at 10 frames a second; tiny frames would
#: otherwise make millions of Snapshots out of a file within the size limit)
MAX_FRAMES = 864_000
#: the largest time a frame may be at (runs last at most a day)
MAX_ELAPSED = 7 * 24 * 3600.0


class RecordingError(ValueError):
    """A file that is not a replayable recording; the message is one line naming it."""


def _strict_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _strict_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too big a number")
    return value


_decode = json.JSONDecoder(parse_constant=_strict_constant, parse_float=_strict_float).decode


@functools.cache
def _hints(klass: type) -> dict[str, Any]:
    """A Snapshot class's field types, resolved (the module uses postponed annotations)."""
    return typing.get_type_hints(klass, vars(sys.modules[klass.__module__]))


#: the JSON scalars: how to tell one, and what to say when a value is not one
_SCALARS: dict[Any, tuple[Any, str]] = {
    bool: (lambda v: v is True or v is False, "true or false"),
    int: (lambda v: type(v) is int, "a whole number"),  # not a bool (a subclass)
    float: (lambda v: type(v) is int or type(v) is float, "a number"),
    str: (lambda v: type(v) is str, "text"),
}


@functools.cache
def _form(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """typing.get_origin and get_args of `hint`, worked out once per hint."""
    return typing.get_origin(hint), typing.get_args(hint)


def _problem(value: Any, hint: Any, where: str) -> str | None:
    """Why decoded JSON `value` cannot stand for type `hint` (the path `where` named in the
    answer), or None when it can."""
    scalar = _SCALARS.get(hint)
    if scalar is not None:
        return None if scalar[0](value) else f"{where}: should be {scalar[1]}"
    if hint is Any:
        return None
    if hint is None or hint is type(None):
        return None if value is None else f"{where}: should be null"
    if isinstance(hint, Check):
        return hint.problem(value, where)
    if isinstance(hint, Record):
        return _record_problem(value, hint, where)
    if isinstance(hint, Either):
        return _either_problem(value, hint.options, where)
    origin: Any
    args: tuple[Any, ...]
    if isinstance(hint, ListOf):
        origin, args = list, (hint.item,)
    elif isinstance(hint, DictOf):
        origin, args = dict, (str, hint.value)
    else:
        origin, args = _form(hint)
    if origin in (typing.Union, types.UnionType):
        return _either_problem(value, args, where)
    if origin is typing.Literal:
        words = " or ".join(repr(v) for v in args)
        return None if value in args else f"{where}: should be {words}"
    if origin is dict:
        if type(value) is not dict:
            return f"{where}: should be an object"
        of = args[1]
        scalar = _SCALARS.get(of)
        if scalar is not None and all(map(scalar[0], value.values())):
            return None  # the common case, without a path for every value
        return next((p for k, v in value.items() if (p := _problem(v, of, f"{where}.{k}"))),
                    None)
    if origin in (list, tuple):
        if type(value) is not list:
            return f"{where}: should be a list"
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                return f"{where}: should be a list of {len(args)}"
            pairs: Any = zip(value, args)
        else:
            scalar = _SCALARS.get(args[0])
            if scalar is not None and all(map(scalar[0], value)):
                return None
            pairs = ((v, args[0]) for v in value)
        return next((p for i, (v, of) in enumerate(pairs)
                     if (p := _problem(v, of, f"{where}[{i}]"))), None)
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        return _named_tuple_problem(value, hint, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _object_problem(value, hint, where)
    return f"{where}: cannot be checked"  # a type this reader does not know: refuse


def _either_problem(value: Any, options: tuple[Any, ...], where: str) -> str | None:
    """None when `value` is of one of the `options`; else the first option's problem."""
    first = None
    for option in options:
        problem = _problem(value, option, where)
        if problem is None:
            return None
        first = first or problem
    return first


def _record_problem(value: Any, record: Record, where: str) -> str | None:
    """An object with the keys `record` names of their types, its required ones there."""
    if not isinstance(value, dict):
        return f"{where}: should be an object"
    missing = next((k for k in record.required if k not in value), None)
    if missing is not None:
        return f"{where}: has no '{missing}'"
    return next((p for k, of in record.fields.items() if k in value
                 and (p := _problem(value[k], of, f"{where}.{k}"))), None)


def _kept(value: dict[str, Any], fields: dict[str, Any], where: str) -> str | None:
    """Check the keys of `value` that `fields` names and drop the others (in place): a
    replay hands the panels only keys of a known type."""
    for key in [k for k in value if k not in fields]:
        del value[key]
    return _record_problem(value, Record(fields), where)


def _named_tuple_problem(value: Any, klass: type, where: str) -> str | None:
    """A NamedTuple travels as a list of all its fields; a channel's ends and a semaphore's
    holders may also be in their old text form (`parse`)."""
    text_form = klass in (snapshot_module.End, snapshot_module.Holder)
    if isinstance(value, str) and text_form:
        return None
    fields: tuple[str, ...] = getattr(klass, "_fields")  # a NamedTuple's (checked above)
    if not isinstance(value, list) or len(value) != len(fields):  # `record` writes them all
        return f"{where}: should be {'text or ' if text_form else ''}a list of {len(fields)}"
    hints = _hints(klass)
    return next((p for v, name in zip(value, fields)
                 if (p := _problem(v, hints[name], f"{where}[{name}]"))), None)


def _object_problem(value: Any, klass: type, where: str) -> str | None:
    """A dataclass travels as an object: its required fields present, each known field of
    its type (a semaphore's holders: Holder's forms); unknown fields are left out later."""
    if not isinstance(value, dict):
        return f"{where}: should be an object"
    hints = _hints(klass)
    label = where or "the frame"
    for field in dataclasses.fields(klass):
        required = (field.default is dataclasses.MISSING
                    and field.default_factory is dataclasses.MISSING)
        if field.name not in value:
            if required:
                return f"{label}: has no '{field.name}'"
            continue
        path = f"{where}.{field.name}" if where else field.name
        hint = FIELD_TYPES.get((klass, field.name), hints[field.name])
        problem = _problem(value[field.name], hint, path)
        if problem:
            return problem
    if klass is snapshot_module.WorkerView:
        if value.get("blocked_on") is not None and not isinstance(value["blocked_on"], str):
            return f"{where}.blocked_on: should be text"
        if value.get("program") is not None:
            return _kept(value["program"], PROGRAM_FACTS, f"{where}.program")
    if klass is snapshot_module.ChannelView:
        fields = CHANNEL_DATA.get(value["kind"])
        if fields is None:
            return (f"{where}.kind: {value['kind']!r} is no channel kind this version "
                    "shows")
        data = value.setdefault("data", {})
        if not isinstance(data, dict):  # (the state is no dataclass field to check it)
            return f"{where}.data: should be an object"
        problem = _kept(data, fields, f"{where}.data")
        if problem is None and value["kind"] == "shared_array":
            problem = shared_array_problem(data)
            problem = problem and f"{where}.data.{problem}"
        return problem
    return None


def frame_problem(frame: Any) -> str | None:
    """Why one decoded line is not a frame of a recording, or None."""
    if not isinstance(frame, dict):
        return "not a frame (a JSON object with scenario, elapsed and running)"
    problem = _object_problem(frame, Snapshot, "")
    if problem:
        return problem
    if not 0 <= frame["elapsed"] <= MAX_ELAPSED:
        return f"elapsed: {frame['elapsed']} is not a time in [0, {MAX_ELAPSED:g}] seconds"
    return None


def _snapshot(line: bytes) -> Snapshot:
    """The Snapshot of one line, or RecordingError saying what is wrong with it."""
    try:
        frame = _decode(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecordingError("not UTF-8 text; not a recording") from None
    except ValueError as exc:  # json.JSONDecodeError, or a number refused above
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise RecordingError(f"not a JSON line ({why}); not a recording") from None
    problem = frame_problem(frame)
    if problem:
        raise RecordingError(problem)
    known = {k: v for k, v in frame.items() if k in _FRAME_FIELDS}  # the rest is dropped
    try:
        return Snapshot.from_dict(escape_tree(known))
    except (TypeError, ValueError, LookupError, AttributeError) as exc:  # a safety net
        raise RecordingError(f"not a frame ({exc})") from None


_FRAME_FIELDS = frozenset(f.name for f in dataclasses.fields(Snapshot))


def parse_recording(raw: bytes, name: str) -> list[Snapshot]:
    """The Snapshots of recording bytes `raw` (file `name`), or RecordingError naming the
    first bad line."""
    snapshots: list[Snapshot] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(snapshots) == MAX_FRAMES:
            raise RecordingError(f"{name}:{number}: more than {MAX_FRAMES:,} frames; a "
                                 "recording is limited to that")
        try:
            snapshots.append(_snapshot(line))
        except RecursionError:  # while decoding, checking or escaping it
            raise RecordingError(f"{name}:{number}: nested too deeply; not a frame") from None
        except RecordingError as exc:
            raise RecordingError(f"{name}:{number}: {exc}") from None
    if not snapshots:
        raise RecordingError(f"{name}: has no frames (an empty file is not a recording)")
    return snapshots


def read_recording(path: str) -> list[Snapshot]:
    """The Snapshots of the recording at `path`: a regular file of at most
    MAX_RECORDING_BYTES, read without waiting; RecordingError in one line otherwise."""
    try:
        raw = read_regular(path, MAX_RECORDING_BYTES, "recording")
    except InputRefused as exc:
        raise RecordingError(str(exc)) from None
    return parse_recording(raw, path)
