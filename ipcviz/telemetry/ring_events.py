"""A worker's events, typed: what each kind of event carries, written into the worker's
ring in the telemetry table (`pack`, in the worker) and read back out of it (`unpack`,
in the runtime), and the `WorkerEvent` frames carry to the UI.

A ring entry is six cells, one writer (the worker whose row it is): the time, the
event's code, the channel's index (-1: none) and three values whose meaning the code
gives (`VALUES`), so no value shares a cell with another. The words a person reads are
made where the event is shown (ipcviz/tui/event_words.py), not here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CATEGORY", "EXIT_BY_HANDLER", "EXIT_BY_STEP", "EXIT_FAILED", "EXIT_STEPS_DONE",
           "EventCode", "VALUES", "WorkerEvent", "pack", "unpack"]


class EventCode(enum.IntEnum):
    """What happened; the number is the ring's, the name the frames'."""

    STARTED = 1
    SIGNAL = 2  # a handler ran: reason 1 logs it, 2 ends the worker
    EOF = 3
    EPIPE = 4
    EXITING = 5
    SENT = 6
    WAITED = 7
    BLOCK = 8
    UNBLOCK = 9
    SPAWNED = 10
    REAPED = 11
    SPAWN_LIMIT = 12
    SET = 13
    READ_ARRAY = 14
    SELF_READ = 15
    SEND_FULL = 16
    RETRY = 17
    DUPLICATE = 18
    FAILED = 19
    PROCESS_CAP = 20
    PRIORITY = 21
    TORN_READ = 22
    CALL_ANSWERED = 23
    CALL_TIMEOUT = 24
    CALL_GAVE_UP = 25
    CALL_RECONNECT = 26
    EXECUTED_TWICE = 27
    STALE_ANSWER = 28
    LOADED = 29
    STORED = 30
    PEER_REFUSED = 31
    CLOSED_KEPT = 32
    DISPOSITION = 40
    INTERRUPTED = 41
    RESTARTED = 42
    PAST_END = 43
    TRUNCATED = 44
    UNLINKED = 45


E = EventCode

# EXITING's reason: why the worker ends
EXIT_STEPS_DONE, EXIT_BY_HANDLER, EXIT_BY_STEP, EXIT_FAILED = range(4)

#: the three values each code carries, by the WorkerEvent field they fill (a `peer_row`
#: is named as `peer`, a `number` of an array event is its `element`, an `op` is named)
VALUES: dict[EventCode, tuple[str, ...]] = {
    E.STARTED: ("pid",),
    E.SIGNAL: ("signal", "reason"),
    E.EOF: (),
    E.EPIPE: ("count",),  # the worker's failed writes so far
    E.EXITING: ("value", "reason"),  # exit status, EXIT_*
    E.SENT: ("signal", "peer_row", "count"),  # peer_row < 0: the runtime
    E.WAITED: ("signal",),
    E.BLOCK: ("signal", "count"),  # the first signal, how many
    E.UNBLOCK: ("signal", "count"),
    E.SPAWNED: ("peer_row", "pid"),
    E.REAPED: ("peer_row",),
    E.SPAWN_LIMIT: ("count",),  # child rows there are
    E.PROCESS_CAP: ("count",),  # the cap
    E.SET: ("number",),  # flat element index, -1: every element
    E.READ_ARRAY: ("value",),  # the sum
    E.SELF_READ: ("count",),  # bytes
    E.SEND_FULL: (),
    E.RETRY: ("number",),  # the message
    E.DUPLICATE: ("number",),
    E.FAILED: ("error", "op"),  # errno, OP_* (the channel: -1 for none)
    E.PRIORITY: ("number", "count"),  # the priority, messages left
    E.TORN_READ: ("count",),  # bytes of the record seen
    E.CALL_ANSWERED: ("number", "value"),  # the call, latency in microseconds
    E.CALL_TIMEOUT: ("number", "count", "reason"),  # attempt, 1: sent again
    E.CALL_GAVE_UP: ("number", "count"),  # attempts made
    E.CALL_RECONNECT: ("number", "count"),  # the attempt the lost connection ended
    E.EXECUTED_TWICE: ("number",),
    E.STALE_ANSWER: ("number",),
    E.LOADED: ("number", "value"),  # flat element index, the value loaded
    E.STORED: ("number", "value"),  # the value stored
    E.PEER_REFUSED: ("uid", "pid", "reason"),  # -1: not known; reason 1: a datagram
    E.CLOSED_KEPT: ("number", "reason"),  # the fd, 1: the write end
    E.DISPOSITION: ("signal", "reason"),  # index in op_words.DISPOSITIONS
    E.INTERRUPTED: ("count",),  # the channel's EINTRs so far in this worker
    E.RESTARTED: ("count",),  # deliveries during that read
    E.PAST_END: ("number", "value"),  # the offset touched, the object's size then
    E.TRUNCATED: ("value",),  # bytes
    E.UNLINKED: (),
}

#: each code's family, for the log's colours and its filter (`F`)
CATEGORY: dict[EventCode, str] = {
    **{code: "io" for code in EventCode},
    **{code: "signal" for code in (E.SIGNAL, E.SENT, E.WAITED, E.BLOCK, E.UNBLOCK,
                                   E.DISPOSITION)},
    **{code: "start" for code in (E.STARTED, E.SPAWNED)},
    **{code: "exit" for code in (E.EXITING, E.REAPED, E.FAILED, E.PAST_END)},
    **{code: "info" for code in (E.SPAWN_LIMIT, E.PROCESS_CAP)},
}

if VALUES.keys() != set(EventCode) or any(len(v) > 3 for v in VALUES.values()):
    raise RuntimeError("every event code names at most three values")


#: per code, each value's cell (0, 1 or 2), for `pack`
_CELL: dict[EventCode, dict[str, int]] = {
    code: {name: cell for cell, name in enumerate(names)} for code, names in VALUES.items()}


def pack(code: EventCode, values: Mapping[str, int]) -> tuple[int, int, int]:
    """The three value cells of a `code` event (a worker writes them): each value in the
    cell its name has in VALUES; 0 for the unused."""
    cell_of = _CELL[code]
    cells = [0, 0, 0]
    try:
        for name, value in values.items():
            cells[cell_of[name]] = int(value)
    except KeyError:
        raise ValueError(f"{code.name} carries {VALUES[code]}, not {sorted(values)}") from None
    return cells[0], cells[1], cells[2]


@dataclass(frozen=True)
class WorkerEvent:
    """One event of a worker's ring, as frames carry it: the code, and the values it
    carries by name (None: not one of this code's)."""

    code: EventCode
    channel: str | None = None
    signal: int | None = None
    #: how many: signals, failures, bytes, messages left, attempts, rows
    count: int | None = None
    #: which one: a message, a call, a priority, an fd, an offset
    number: int | None = None
    #: a value: a status, a sum, a latency in microseconds, a size
    value: int | None = None
    pid: int | None = None
    #: the other worker, by name (None: the runtime, or a child not named yet)
    peer: str | None = None
    peer_row: int | None = None
    #: errno of a failed step, and the operation that failed
    error: int | None = None
    op: str | None = None
    uid: int | None = None
    #: why or how, by code: see VALUES
    reason: int | None = None
    #: an array element's position ([i], or [row, col] in a 2-D array)
    element: tuple[int, ...] | None = None


def unpack(code: int, channel: int, cells: Sequence[int], channel_names: Sequence[str],
           row_names: Sequence[str], op_names: Mapping[int, str],
           shapes: Mapping[int, tuple[int, ...]]) -> WorkerEvent | None:
    """The WorkerEvent of one ring entry (`cells`: its three values), names looked up:
    the channel's, the other worker's, the operation's; an array index as its element
    (`shapes`: each array's shape by channel index). None for a code this version does
    not know."""
    try:
        known = EventCode(code)
    except ValueError:
        return None
    fields: dict[str, Any] = dict(zip(VALUES[known], cells))
    if 0 <= channel < len(channel_names):
        fields["channel"] = channel_names[channel]
    row = fields.get("peer_row")
    if isinstance(row, int) and 0 <= row < len(row_names) and row_names[row]:
        fields["peer"] = row_names[row]
    if "op" in fields:
        fields["op"] = op_names.get(fields["op"], "step")
    if known in (E.SET, E.LOADED, E.STORED) and fields["number"] != -1:
        fields["element"] = _element(fields["number"], shapes.get(channel, ()))
    if known is E.PEER_REFUSED:
        for name in ("uid", "pid"):
            if fields[name] == -1:
                fields[name] = None
    return WorkerEvent(known, **fields)


def _element(index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A flat index as (row, col) in a 2-D array, (index,) otherwise."""
    if len(shape) == 2 and shape[1]:
        return (index // shape[1], index % shape[1])
    return (index,)
