"""The JSON types of a Snapshot's free-form parts, for frames from outside the run.

A ChannelView's `data` and a program worker's `program` facts are open dictionaries: each
channel kind (channels/*.py, runtime/channel_views.py) and the program watcher put in
what they observe, and the panels read it back by key. Frames from this run's own runtime
are trusted; a recording from elsewhere is not, and a panel handed a string where it
expects a count, hex that is not hex, or a `shape` of 10^16 elements fails while drawing.

So a replayed frame keeps only the keys named here, each checked against its type
(telemetry/recording_file.py): what a panel reads of a replay is always of the type the
panel was written for. A channel's keys are its typed state's fields, so their types come
from the state (channels/state_keys.py); a key a newer version adds is left out of the
replay until its state has it. tests/test_bad_recordings.py checks that every key a real
run records is named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ipcviz.channels.state_keys import data_types
from ipcviz.channels.wire import (  # the forms the replay's checker reads
    HEX, NUMBER, Check, DictOf, Either, ListOf, Record, is_number,
)
from ipcviz.scenario.kinds import CHANNELS, state_class
from ipcviz.signals import parse_signal
from ipcviz.telemetry.ring_events import EventCode, WorkerEvent
from ipcviz.telemetry.snapshot import Snapshot, WorkerView

__all__ = ["CHANNEL_DATA", "FIELD_TYPES", "PROGRAM_FACTS", "Check", "DictOf", "Either",
           "ListOf", "Record", "shared_array_problem"]


def _signal(name: Any) -> bool:
    """A signal's name as the runtime writes it (the signals panel orders by its number)."""
    try:
        parse_signal(name)
    except ValueError:
        return False
    return isinstance(name, str)


def _signal_counts(value: Any) -> bool:
    return isinstance(value, dict) and all(_signal(k) and _is_int(n) for k, n in value.items())


SIGNAL_COUNTS = Check(_signal_counts, "signal names with counts")
SIGNAL_MASKS = Check(lambda v: isinstance(v, dict) and all(
    isinstance(names, list) and all(map(_signal, names)) for names in v.values()),
    "lists of signal names")

#: per channel kind, the type of each key of its `data` a replay keeps: its state's
#: fields' (channels/state_keys.py), with the race's and the cost's
CHANNEL_DATA: dict[str, dict[str, Any]] = {
    kind: data_types(state_class(kind), row.data) for kind, row in CHANNELS.items()}


def _process(value: Any) -> bool:
    """A program's process as the watcher lists it: [pid, ppid, name, state, waits,
    zombies] and, in newer recordings, [masks, cpu, rss] and then its CPU seconds."""
    if not isinstance(value, list) or not 6 <= len(value) <= 10:
        return False
    kinds: tuple[Callable[[Any], bool], ...] = (
        _is_int, _is_int, _is_str, _is_str, lambda v: v is None or isinstance(v, str), _is_int,
        lambda v: isinstance(v, dict) and all(
            isinstance(m, list) and all(map(_is_str, m)) for m in v.values()),
        lambda v: v is None or is_number(v), lambda v: v is None or _is_int(v),
        lambda v: v is None or is_number(v))
    return all(test(v) for test, v in zip(kinds, value))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_PIDS = list[int]
_PROCESS = Check(_process, "a process ([pid, ppid, name, state, ...])")
#: one diagnosis of a watched program (observe/diagnose.py, runtime/diagnosis.py)
_DIAGNOSIS = Record({"kind": str, "key": str, "text": str, "held_s": NUMBER, "pids": _PIDS,
                     "objects": list[str], "now": bool}, ("kind", "text"))
#: who talks to whom in a watched program (observe/graph.py), as far as a panel reads it
_GRAPH = Record({
    "processes": list[dict[str, Any]],
    "objects": ListOf(Record({"id": str, "kind": str, "ends": ListOf(Record(
        {"pid": int, "fd": Either(int, None), "end": str},
        ("pid", "fd", "end")))}, ("id", "ends"))),
}, ("objects",))
#: what the program watcher saw of a program's process tree (runtime/programs.py)
_OBSERVED = Record({
    "processes": ListOf(_PROCESS),
    "pipes": ListOf(Record({"channel": Either(str, None), "kind": str, "path": Either(str, None),
                          "inode": int, "writers": _PIDS, "readers": _PIDS,
                          "buffered": Either(int, None), "capacity": Either(int, None)},
                         ("channel", "kind", "path", "inode", "writers", "readers",
                          "buffered", "capacity"))),
    "queues": ListOf(Record({"name": str, "depth": Either(int, None),
                           "capacity": Either(int, None), "holders": _PIDS},
                          ("name", "depth", "capacity", "holders"))),
    "sockets": ListOf(Record({"family": str, "type": str, "state": str, "local": str,
                            "remote": str, "rx_queue": Either(int, None), "holders": _PIDS},
                           ("family", "type", "state", "local", "remote", "rx_queue",
                            "holders"))),
    "shared_memory": ListOf(Record({"name": str, "size": int, "mappers": _PIDS,
                                  "contents": Either(HEX, None)},
                                 ("name", "size", "mappers"))),
    "diagnoses": ListOf(_DIAGNOSIS),
}, ("processes", "pipes", "queues", "sockets", "shared_memory"))

#: what strace counted for a program (runtime/tracing.py)
_TRACE = Record({
    "attached": bool, "signals_received": SIGNAL_COUNTS,
    "signals_by_process": dict[str, dict[str, int]],
    "descriptors": DictOf(Record({"bytes_written": int, "bytes_read": int,
                                     "writes": int, "reads": int, "messages_sent": int,
                                     "messages_received": int},
                                    ("bytes_written", "bytes_read"))),
})

#: Snapshot fields whose text is more than text: signal names (parsed when drawn)
FIELD_TYPES: dict[tuple[type, str], Any] = {
    **{(WorkerView, name): SIGNAL_COUNTS
       for name in ("signals_received", "signals_sent", "signals_sent_to")},
    **{(WorkerView, name): Either(SIGNAL_COUNTS, None)
       for name in ("sent_this_life", "received_this_life", "signals_merged")},
    (WorkerView, "masks"): SIGNAL_MASKS,
    (Snapshot, "parent_signals"): DictOf(SIGNAL_COUNTS),
    (WorkerEvent, "code"): Check(
        lambda v: isinstance(v, str) and v.upper() in EventCode.__members__ and v.islower(),
        "an event code (sent, eof, ...)"),
}

#: the type of each key of a program worker's facts a replay keeps
PROGRAM_FACTS: dict[str, Any] = {
    "argv": list[str], "output_lines": int, "last_output": list[str], "attached": bool,
    "observed": Either(_OBSERVED, None), "trace": Either(_TRACE, None),
    "diagnoses": ListOf(_DIAGNOSIS), "graph": Either(_GRAPH, None),
    "fds": DictOf(Either(str, bool)),
    "channel_bytes": dict[str, list[int]],
}


def shared_array_problem(data: dict[str, Any]) -> str | None:
    """What the shared-array panel assumes beyond each key's type: the values it is given
    have the shape it is told (it lays the grid out from the shape)."""
    shape, values = data.get("shape"), data.get("values")
    if isinstance(values, list) and shape is not None:
        count = math.prod(shape)
        if count > 4096 or _size(values) != count or (
                len(shape) == 2 and not all(isinstance(r, list) and len(r) == shape[1]
                                            for r in values)):
            return f"values: are not {count:,} numbers of shape {shape}"
    if "heat" in data and shape is None:
        return "heat: without a shape"
    return None


def _size(values: list[Any]) -> int:
    return sum(_size(v) if isinstance(v, list) else 1 for v in values)
