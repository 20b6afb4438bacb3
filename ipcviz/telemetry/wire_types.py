"""The JSON types of a Snapshot's free-form parts, for frames from outside the run.

A ChannelView's `data` and a program worker's `program` facts are open dictionaries: each
channel kind (channels/*.py, runtime/channel_views.py) and the program watcher put in
what they observe, and the panels read it back by key. Frames from this run's own runtime
are trusted; a recording from elsewhere is not, and a panel handed a string where it
expects a count, hex that is not hex, or a `shape` of 10^16 elements fails while drawing.

So a replayed frame keeps only the keys named here, each checked against its type
(telemetry/recording_file.py): what a panel reads of a replay is always of the type the
panel was written for. A key a newer version adds is left out of the replay until it is
named here; tests/test_bad_recordings.py checks that every key a real run records is.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from typing import Any, Literal

from ipcviz.scenario.kinds import CHANNELS, COMPARED_FAMILIES
from ipcviz.signals import parse_signal
from ipcviz.telemetry.ring_events import EventCode, WorkerEvent
from ipcviz.telemetry.snapshot import Holder, Snapshot, WorkerView

#: the most elements a replayed shared array may claim (the runtime ships at most 4096
#: values and block means of bigger arrays; the shape only labels them)
MAX_ARRAY_ELEMENTS = 1 << 40
#: the deepest list of numbers accepted (arrays are 1-D or 2-D)
MAX_NESTING = 4


class Check:
    """A type that is more than a JSON type: `test` says whether a value is one."""

    def __init__(self, test: Callable[[Any], bool], words: str):
        self.test = test
        self.words = words

    def problem(self, value: Any, where: str) -> str | None:
        return None if self.test(value) else f"{where}: should be {self.words}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (
        isinstance(value, int) or math.isfinite(value))


def _numbers(value: Any, depth: int = 0) -> bool:
    """A number, or a list (of lists...) of numbers no deeper than MAX_NESTING."""
    if isinstance(value, list):
        return depth < MAX_NESTING and all(_numbers(v, depth + 1) for v in value)
    return _is_number(value)


def _hex(value: Any) -> bool:
    return (isinstance(value, str) and len(value) % 2 == 0
            and all(ch in string.hexdigits for ch in value))


def _shape(value: Any) -> bool:
    if not (isinstance(value, list) and 1 <= len(value) <= 2 and all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)):
        return False
    return math.prod(value) <= MAX_ARRAY_ELEMENTS


def _grid(value: Any) -> bool:
    """Rows of numbers, at least one row and one column, all rows equally long."""
    return (isinstance(value, list) and len(value) > 0 and all(
        isinstance(row, list) and len(row) == len(value[0]) > 0
        and all(_is_number(v) for v in row) for row in value))


class Either:
    """One of several types (a union that may hold a Check or a Record)."""

    def __init__(self, *options: Any):
        self.options = options


class ListOf:
    """A list whose every item is of `item`: a Check, Record or Either, which `list[...]`
    cannot hold for a type checker (a JSON type may be written `list[int]` as well)."""

    def __init__(self, item: Any):
        self.item = item


class DictOf:
    """An object whose every value is of `value` (keys are text), as ListOf for lists."""

    def __init__(self, value: Any):
        self.value = value


class Record:
    """A JSON object with known keys: `required` ones must be there; every key named is
    of its type; other keys are kept (a panel reads only the keys it knows)."""

    def __init__(self, fields: dict[str, Any], required: tuple[str, ...] = ()):
        self.fields = fields
        self.required = required


def _signal(name: Any) -> bool:
    """A signal's name as the runtime writes it (the signals panel orders by its number)."""
    try:
        parse_signal(name)
    except ValueError:
        return False
    return isinstance(name, str)


def _signal_counts(value: Any) -> bool:
    return isinstance(value, dict) and all(_signal(k) and _is_int(n) for k, n in value.items())


HEX = Check(_hex, "hexadecimal text")
SIGNAL_COUNTS = Check(_signal_counts, "signal names with counts")
SIGNAL_MASKS = Check(lambda v: isinstance(v, dict) and all(
    isinstance(names, list) and all(map(_signal, names)) for names in v.values()),
    "lists of signal names")
NUMBERS = Check(lambda v: isinstance(v, list) and _numbers(v),
                "a list of numbers (or of lists of them)")
SHAPE = Check(_shape, f"one or two positive sizes (at most {MAX_ARRAY_ELEMENTS:,} elements)")
GRID = Check(_grid, "rows of numbers, all of one length")
NUMBER = Check(_is_number, "a number")

_STREAM: dict[str, Any] = {
    "bytes_written": int, "bytes_read": int, "moved": int, "rank": int, "mb_per_s": NUMBER,
    "last_read": dict[str, tuple[str, int]],
}
_PIPE: dict[str, Any] = {
    **_STREAM, "buffered": int, "capacity": int, "max_buffered": int, "closed": bool,
    "unread_at_close": int, "path": str, "open_by": dict[str, list[str]],
    "write_ends": list[str], "read_ends": list[str], "write_ends_open": int,
    "read_ends_open": int, "ends_hidden": list[str], "uncounted": bool,
    "traced_bytes": dict[str, list[int]],
    "interrupted_reads": int, "restarted_reads": int,
}
#: a caller's own figures (its latency is null until one of its calls is answered)
_CALLER = Record({"calls": int, "answered": int, "in_flight": int, "timeouts": int,
                  "retries": int, "gave_up": int, "latency_ms_mean": Either(NUMBER, None),
                  "latency_ms_max": Either(NUMBER, None)})

#: per channel kind, the type of each key of its `data` a replay keeps
CHANNEL_DATA: dict[str, dict[str, Any]] = {
    "pipe": _PIPE,
    "fifo": _PIPE,
    "socket": {**_STREAM, "address": str, "family": str, "server": str, "type": str,
               "connections": int, "dropped": int, "reads": int, "writes": int,
               "peers_refused": int, "accept_queue": int, "max_accept_queue": int},
    "file": {"bytes_written": int, "bytes_read": int, "file_bytes": int, "lock": bool,
             "path": str, "records_read": int, "records_written": int, "torn_reads": int,
             "moved": int, "rank": int, "mb_per_s": NUMBER},
    "mmap": {**_STREAM, "path": str, "preview": HEX, "size": int, "window": HEX,
             "window_at": int, "write_offset": int},
    "shm": {**_STREAM, "path": str, "in_dev_shm": bool, "size": int,
            "declared_size": int, "contents": str, "unlinked_by_runtime": bool,
            "held_by": list[str]},
    "mqueue": {"bytes_received": int, "bytes_sent": int, "capacity": int, "depth": int,
               "max_depth": int, "message_size": int, "messages_received": int,
               "messages_sent": int, "refused": int, "empty_receives": int, "moved": int,
               "rank": int, "mb_per_s": NUMBER},
    "queue": {"bytes_received": int, "bytes_sent": int, "capacity": int | Literal["unbounded"],
              "depth": int, "max_depth": int, "messages_received": int, "messages_sent": int,
              "refused": int, "empty_receives": int, "spool_bytes": int, "moved": int,
              "rank": int, "mb_per_s": NUMBER, "waiting_senders": int},
    "rpc": {**{k: int for k in ("answered", "bytes_read", "bytes_written", "calls",
                                "connections", "errors", "executed", "executed_twice",
                                "gave_up", "in_flight", "retries", "timeouts", "moved",
                                "rank", "peers_refused")},
            "address": str, "family": str, "server": str, "mb_per_s": NUMBER,
            "latency_ms_mean": Either(NUMBER, None), "latency_ms_max": Either(NUMBER, None),
            "callers": DictOf(_CALLER)},
    "semaphore": {"busy": bool, "handoff": bool, "holder": str | None, "held": int,
                  "holders": list[Holder], "initial": int, "value": int, "max_held": int,
                  "waiters": list[str]},
    "shared_array": {"dtype": str, "shape": SHAPE, "shm_path": str, "sum": NUMBER,
                     "initial_sum": NUMBER, "increments": int, "lost_updates": int | None,
                     "lost_updates_note": Literal["wraparound", "rounding", "set_used"],
                     "values": Either(NUMBERS, DictOf(NUMBER)),
                     "last_writer": NUMBERS, "heat": GRID, "elements": list[list[Any]]},
}

#: a compared channel's system calls (runtime/syscall_views.py, `count_syscalls: true`)
SYSCALL_DATA: dict[str, Any] = {
    "syscalls_counted": bool, "syscalls_unavailable": str, "messages": int,
    "copy_calls": int, "syscalls": int, "copy_calls_per_message": NUMBER,
    "syscalls_per_message": NUMBER, "cpu_us_per_message": NUMBER}

# a kind that gives its data's types itself (kinds.ChannelKind.data; float: any number)
CHANNEL_DATA.update({kind: {key: NUMBER if t is float else t for key, t in row.data.items()}
                     for kind, row in CHANNELS.items() if row.data is not None})

#: the kinds `compare:` accepts (they move bytes or messages) may count system calls
for _kind, _row in CHANNELS.items():
    if _row.counters in COMPARED_FAMILIES and _kind in CHANNEL_DATA:
        CHANNEL_DATA[_kind].update(SYSCALL_DATA)


def _process(value: Any) -> bool:
    """A program's process as the watcher lists it: [pid, ppid, name, state, waits,
    zombies] and, in newer recordings, [masks, cpu, rss] and then its CPU seconds."""
    if not isinstance(value, list) or not 6 <= len(value) <= 10:
        return False
    kinds: tuple[Callable[[Any], bool], ...] = (
        _is_int, _is_int, _is_str, _is_str, lambda v: v is None or isinstance(v, str), _is_int,
        lambda v: isinstance(v, dict) and all(
            isinstance(m, list) and all(map(_is_str, m)) for m in v.values()),
        lambda v: v is None or _is_number(v), lambda v: v is None or _is_int(v),
        lambda v: v is None or _is_number(v))
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
