"""Snapshots: immutable values describing one moment of a run. Widgets render only these.

A Snapshot round-trips through JSON (`to_dict`/`from_dict`), which is how the runtime
streams them to the UI and how runs are recorded and replayed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, NamedTuple

from ipcviz.channels.lock_state import Holder
from ipcviz.channels.state import ChannelState, DictState
from ipcviz.format import waiting_text
from ipcviz.scenario.kinds import state_class
from ipcviz.telemetry.lean_fields import lean
from ipcviz.telemetry.ring_events import EventCode, WorkerEvent


class Waiting(NamedTuple):
    """What a blocked worker waits in: the operation ("write", "acquire", "wait_signal")
    and its object (a channel, or the signal awaited), None when it is not known."""

    op: str
    on: str | None = None

    @classmethod
    def parse(cls, text: str) -> Waiting:
        """From the old text form ("acquire lock_a"), as recordings made before hold it."""
        op, _, on = text.partition(" ")
        return cls(op, on or None)


class NextOp(NamedTuple):
    """What a held worker does next (runtime/scheduler.py): `kind` ("load", "write",
    "acquire"), its channel if any, and the words ("load counter[0]")."""

    kind: str
    channel: str | None
    detail: str


class End(NamedTuple):
    """A worker at one end of a channel (a writer or a reader): `worker` a worker's name,
    or, with `spawner`, the definition of the children that worker spawns to use the
    channel (the spawner holds the descriptors for them but never reads or writes)."""

    worker: str
    spawner: str | None = None

    @classmethod
    def parse(cls, value: Any) -> End:
        """From JSON: [worker, spawner], or the old text form ("handler ← server")."""
        if isinstance(value, str):
            kid, sep, spawner = value.partition(" ← ")
            return cls(kid, spawner if sep else None)
        return cls(str(value[0]), None if value[1] is None else str(value[1]))


@dataclass(frozen=True)
class WorkerView:
    """One worker process as the sampler saw it."""

    name: str
    group: str
    pid: int | None
    state: str
    """running | sleeping | blocked | stopped | zombie | exited | starting (a worker held
    at its step boundary keeps its kernel state; the `paused` field says it is held)"""
    waiting: Waiting | None = None
    """While blocked: the operation and the channel (or signal) it waits in."""
    exit: int | str | None = None
    exit_text: str = ""
    restarts: int = 0
    cpu: float = 0.0
    step: int = 0
    step_text: str = ""
    loops: int = 0
    paused: bool = False
    lock_off: bool = False
    parent: str | None = None
    signals_received: dict[str, int] = field(default_factory=dict)
    signals_sent: dict[str, int] = field(default_factory=dict)
    signals_sent_to: dict[str, int] = field(default_factory=dict)
    bytes_written: dict[str, int] = field(default_factory=dict)
    bytes_read: dict[str, int] = field(default_factory=dict)
    messages_sent: dict[str, int] = field(default_factory=dict)
    messages_received: dict[str, int] = field(default_factory=dict)
    increments: dict[str, int] = field(default_factory=dict)
    self_reads: int = 0
    epipe_errors: int = 0
    duplicates: int = 0
    zombies: int = 0
    masks: dict[str, list[str]] = field(default_factory=dict)
    """Kernel masks from /proc/PID/status: pending, shared_pending, blocked, ignored, caught."""
    failure: str = ""
    """Why a step ended the worker (a full file system, a refused fork), or empty."""
    next_op: NextOp | None = None
    """While the run is paused or stepped and the worker is held: its next operation."""
    sent_this_life: dict[str, int] | None = None
    """What the runtime sent to the current process life (after a restart the count
    starts again), for the reasons sent and received differ; None: as signals_sent_to."""
    received_this_life: dict[str, int] | None = None
    """What the current process life received (after a restart); None: as
    signals_received."""
    uses_lock: bool = False
    """Some step of it takes a `lock:` (so `l` has something to switch off)."""
    signals_merged: dict[str, int] | None = None
    """Standard signals sent to this process life that the counts prove were merged into
    one already pending (coalesced), by name (runtime/signal_merges.py); the rest of sent
    - received is in flight. None: not known (recordings made before)."""
    program: dict[str, Any] | None = None
    """A worker that runs a program (`exec:`): {"argv", "output_lines", "last_output"};
    its counters are not known (no step interpreter counts them)."""

    @property
    def blocked_on(self) -> str | None:
        """`waiting` as the JSON summary words it: "write p", "acquire lock_b"."""
        return waiting_text(*self.waiting) if self.waiting else None


@dataclass(frozen=True)
class ChannelView:
    """One channel: its kind, its typed state (the counters summed over workers and the
    kernel's view, channels/state.py), and who writes and reads it."""

    name: str
    kind: str
    state: ChannelState = field(default_factory=DictState)
    writers: tuple[End, ...] = ()
    readers: tuple[End, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.state, ChannelState):  # a dict of data, as views once took
            raise TypeError(f"channel {self.name!r}: a ChannelView takes a typed state; "
                            "make one from its data with ChannelView.of")

    @classmethod
    def of(cls, name: str, kind: str, data: dict[str, Any], writers: tuple[End, ...] = (),
           readers: tuple[End, ...] = ()) -> ChannelView:
        """The view of a channel whose state is given as its JSON `data`."""
        return cls(name, kind, state_class(kind).from_dict(_channel_data(data)), writers,
                   readers)

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        """The state as the JSON summary has it (`state.to_dict()`): what a recording
        holds, for comparing with one. ipcviz itself reads the typed `state`. A
        semaphore's `holders` is a list of Holder, `waiters` worker names."""
        return self.state.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the fields, the state as its `data`."""
        return {"name": self.name, "kind": self.kind, "data": self.state.to_dict(),
                "writers": self.writers, "readers": self.readers}


@dataclass(frozen=True)
class EventView:
    """One line of the event log."""

    t: float
    """Wall-clock seconds since the run's start."""
    worker: str
    text: str = ""
    """The runtime's own words (its log), or an old recording's; "" for a worker's event,
    which `event` carries typed (the UI makes its words: tui/event_words.py)."""
    kind: str = "info"
    run_time: float | None = None
    """The run clock's seconds when it happened (the header's clock: it stands still while
    the run is paused or stepped); None in recordings made before it."""
    event: WorkerEvent | None = None
    """What happened in the worker, typed (None: the runtime's, or an old recording's)."""

    @property
    def shown_t(self) -> float:
        """The time the log shows: the run clock's, or the wall clock's when not known."""
        return self.t if self.run_time is None else self.run_time


@dataclass(frozen=True)
class Snapshot:
    """Everything the UI shows at one moment."""

    scenario: str
    elapsed: float
    running: bool
    workers: tuple[WorkerView, ...] = ()
    channels: tuple[ChannelView, ...] = ()
    events: tuple[EventView, ...] = ()
    """Events new since the previous Snapshot."""
    dropped_events: int = 0
    deadlock: tuple[str, ...] | None = None
    """The wait-for cycle present now, e.g. ('a', 'lock_b', 'b', 'lock_a')."""
    deadlock_seen: tuple[str, ...] | None = None
    """The first cycle seen during the run (it may have been broken since)."""
    deadlock_at: float | None = None
    triggers: tuple[tuple[str, str], ...] = ()
    description: str = ""
    result: str = ""
    """The scenario's `result:` template (ipcviz/scenario/result_line.py), filled in by the UI."""
    held_start: bool = False
    """A held start (`start: held`) nobody has let go on yet: nothing has moved."""
    steps: int = 0
    """Operations granted so far (`n`, `N`, a schedule): the header's step count."""
    schedule_length: int = 0
    """Entries of the run's schedule (0: none): "step 3/8"."""
    seq: int = 0
    parent_signals: dict[str, dict[str, int]] = field(default_factory=dict)
    """The runtime as a signal target (`to: parent`): "signals_received" (counted by the
    runtime) and "signals_sent_to" (by the workers' `signal` steps)."""
    mode: str = "run"
    """The run-wide time mode (runtime/scheduler.py): run | pause | step | schedule."""
    speed: float = 1.0
    """The slow-motion factor: 1, 1/2, ... 1/64."""
    run_time: float | None = None
    """The run clock (stands still while paused); None in recordings made before it."""
    replay: dict[str, Any] | None = None
    """Set by a replay only: position, length, frame, frames, speed, paused, ended, and
    rebuild (the events are every event up to this frame: the log starts again)."""

    def worker(self, name: str) -> WorkerView | None:
        return self._workers_by_name.get(name)

    def channel(self, name: str) -> ChannelView | None:
        return self._channels_by_name.get(name)

    # The panels look workers up by name for every pipe end and queue: with 64 workers a
    # scan each time was a measurable part of a frame. Built once per Snapshot (it never
    # changes); not fields, so equality and the wire form do not see them.
    @functools.cached_property
    def _workers_by_name(self) -> dict[str, WorkerView]:
        out: dict[str, WorkerView] = {}
        for w in self.workers:
            out.setdefault(w.name, w)  # the first of a name, as the scan found it
        return out

    @functools.cached_property
    def parent_names(self) -> frozenset[str]:
        """The workers with spawned children in view (asked once per row: made once)."""
        return frozenset(w.parent for w in self.workers if w.parent)

    @functools.cached_property
    def _channels_by_name(self) -> dict[str, ChannelView]:
        out: dict[str, ChannelView] = {}
        for c in self.channels:
            out.setdefault(c.name, c)
        return out

    def to_dict(self, words: Callable[[EventView], str] | None = None) -> dict[str, Any]:
        """Plain data for JSON (shallow: a Snapshot is never changed after it is made;
        dataclasses.asdict deep-copied every array value and cost more than the sampling).
        `words`: each event's text is what it gives (a recording is read by people too).
        A worker's fields equal to their defaults are left out (`from_dict` gives them
        back): most of a frame of many workers was empty maps, zeros and nulls."""
        names = _shape(Snapshot)[0]
        out = {k: v for k, v in self.__dict__.items() if k in names}  # not the caches
        out["workers"] = [lean(w.__dict__, WorkerView) for w in self.workers]
        out["channels"] = [c.to_dict() for c in self.channels]
        out["events"] = [_event_dict(e, words) for e in self.events]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any],
                  worker: Callable[[dict[str, Any]], WorkerView] | None = None,
                  channel: Callable[[dict[str, Any]], ChannelView] | None = None) -> Snapshot:
        """The Snapshot of a wire form; fields it does not know (a newer runtime's) are
        left out, missing ones take their defaults. `worker` and `channel` make the views
        from their wire forms (default `worker_of`, `channel_of`): the UI's decoder
        passes its own, which reuse the last frame's views of unchanged wire forms."""
        build = _build
        raw = dict(data)
        raw["workers"] = tuple(map(worker or worker_of, raw.get("workers", ())))
        raw["channels"] = tuple(map(channel or channel_of, raw.get("channels", ())))
        raw["events"] = tuple(build(EventView, _event_fields(e)) for e in raw.get("events", ()))
        raw["triggers"] = tuple(tuple(t) for t in raw.get("triggers", ()))
        for key in ("deadlock", "deadlock_seen"):
            if raw.get(key) is not None:
                raw[key] = tuple(raw[key])
        return build(cls, raw)


@functools.cache
def _shape(klass: type) -> tuple[frozenset[str], dict[str, Any], tuple, frozenset[str]]:
    """A dataclass's field names, plain defaults, default factories and required names."""
    fs = fields(klass)
    return (frozenset(f.name for f in fs),
            {f.name: f.default for f in fs if f.default is not MISSING},
            tuple((f.name, f.default_factory) for f in fs if f.default_factory is not MISSING),
            frozenset(f.name for f in fs
                      if f.default is MISSING and f.default_factory is MISSING))


def quick(klass: type, **fields: Any) -> Any:
    """`klass(**fields)` for one of these frozen dataclasses, at a third of the cost (see
    `_build`): the sampler makes a WorkerView of every worker that moved, every frame.
    A name that is no field goes through __init__, which says so."""
    if not fields.keys() <= _shape(klass)[0]:
        return klass(**fields)
    return _build(klass, fields)


def _build(klass: type, raw: dict[str, Any]) -> Any:
    """`klass(**raw)` without the keys it does not know, at a third of the cost: a frozen
    dataclass's __init__ sets each of its 40-odd fields through object.__setattr__, which
    was most of a frame's decoding in the UI (64 workers, 10 frames a second). The
    instance is filled the way __init__ would fill it; none of these classes has a
    __post_init__. A missing required field goes through __init__, which says which."""
    names, defaults, factories, required = _shape(klass)
    if not raw.keys() <= names:
        raw = {k: v for k, v in raw.items() if k in names}
    if not required <= raw.keys():
        return klass(**raw)
    obj: Any = object.__new__(klass)
    state = obj.__dict__
    state.update(defaults)
    for name, factory in factories:
        if name not in raw:
            state[name] = factory()
    state.update(raw)
    return obj


def worker_of(raw: dict[str, Any]) -> WorkerView:
    """A worker's view from its wire form."""
    return _build(WorkerView, _worker_fields(raw))


def channel_of(raw: dict[str, Any]) -> ChannelView:
    """A channel's view from its wire form."""
    return ChannelView.of(str(raw["name"]), str(raw["kind"]), raw.get("data", {}),
                          tuple(map(End.parse, raw.get("writers", ()))),
                          tuple(map(End.parse, raw.get("readers", ()))))


def _worker_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """A worker's JSON fields with `waiting` typed (recordings made before it was data
    carry the text form `blocked_on`)."""
    out = dict(raw)
    text = out.pop("blocked_on", None)
    waiting = out.get("waiting")
    if waiting is not None:
        out["waiting"] = Waiting(*waiting)
    elif text:
        out["waiting"] = Waiting.parse(text)
    if out.get("next_op") is not None:
        out["next_op"] = NextOp(*out["next_op"])
    return out


def _channel_data(data: dict[str, Any]) -> dict[str, Any]:
    if "holders" not in data:
        return data
    return {**data, "holders": [Holder.parse(h) for h in data["holders"]]}


def _event_dict(view: EventView, words: Callable[[EventView], str] | None
                ) -> dict[str, Any]:
    """An EventView's wire form: its typed event as an object of the values it has, the
    code by name (and its text made by `words`, when given)."""
    out = dict(view.__dict__)
    if words is not None:
        out["text"] = words(view)
    event = view.event
    if event is not None:
        out["event"] = {k: v for k, v in event.__dict__.items() if v is not None}
        out["event"]["code"] = event.code.name.lower()
    return out


def _event_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """An EventView's fields from its wire form (an old recording's has no `event`)."""
    event = raw.get("event")
    if not isinstance(event, dict):
        return raw
    fields = {**event, "code": EventCode[str(event["code"]).upper()]}
    if fields.get("element") is not None:
        fields["element"] = tuple(fields["element"])
    return {**raw, "event": _build(WorkerEvent, fields)}
