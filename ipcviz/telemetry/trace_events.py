"""A recorded run as a Chrome Trace Event file, the JSON that Perfetto and chrome://tracing
open (the "Trace Event Format" document describes each phase used here).

What is in it, all in one trace process named after the scenario:

- a track (a thread) per worker, named by "M" metadata events, in the order the workers
  first appear; the ipcviz runtime has a track of its own when it sends or receives
  signals;
- "X" complete slices of each worker's state, frame by frame: "running", "sleeping",
  "blocked: write p", "held at its step" (paused), "stopped", "zombie"; a state lasts from
  the frame it was first seen in to the frame it changed in (or the worker's last frame);
- an arrow for every pairing `telemetry/sequence.py` makes: a 1 µs "X" slice on the
  sender's track ("send p", "SIGUSR1") and one on the receiver's, joined by an "s"/"f" flow
  event pair with a shared id, each inside its slice (the binding point "e": the slice that
  encloses it). Times are whole microseconds, so such a slice never straddles a state
  slice's edge: slices on a track nest properly;
- "i" instant events for semaphore acquires and releases, and for signals that were not
  paired (merged while pending, or from the kernel);
- "C" counters, written when their value changes: each pipe's and FIFO's buffered bytes,
  each queue's depth, each shared array's lost updates.
"""

from __future__ import annotations

from typing import Any

from ipcviz.channels.memory_state import ArrayState
from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.state import ChannelState, PipeState
from ipcviz.format import waiting_text
from ipcviz.telemetry.sequence import RUNTIME, Arrow, Mark, sequence_of
from ipcviz.telemetry.snapshot import Snapshot, WorkerView

PID = 1
"""The one trace process every track belongs to."""

#: states that are no span of a live process
_GONE = frozenset({"exited"})


def micros(seconds: float) -> int:
    """A time in whole microseconds, the trace's unit."""
    return round(seconds * 1_000_000)


def state_label(worker: WorkerView) -> str | None:
    """The name of the slice a worker's state makes, or None when it is gone."""
    if worker.state in _GONE:
        return None
    if worker.state == "held" or worker.paused and worker.state != "blocked":
        return "held at its step"
    if worker.state == "blocked" and worker.waiting is not None:
        return f"blocked: {waiting_text(*worker.waiting)}"
    return worker.state


class _Tracks:
    """Thread ids by worker name, handed out in order of first appearance."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def tid(self, name: str) -> int:
        tid = self.ids.get(name)
        if tid is None:
            tid = self.ids[name] = len(self.ids) + 1
        return tid


def chrome_trace(snapshots: list[Snapshot]) -> dict[str, Any]:
    """The trace of a recording's Snapshots (at least one), as JSON-ready data."""
    tracks = _Tracks()
    events: list[dict[str, Any]] = []
    for snap in snapshots:  # the workers' tracks first, in the order they appear
        for worker in snap.workers:
            tracks.tid(worker.name)
    events += _state_slices(snapshots, tracks)
    sequence = sequence_of(snapshots)
    events += _flows(sequence.arrows, tracks)
    events += [_instant(mark, tracks) for mark in sequence.marks + sequence.unpaired()]
    events += _counters(snapshots)
    events.sort(key=lambda e: e["ts"])  # stable: a flow's slice stays before its arrow
    meta = [{"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "ts": 0,
             "args": {"name": f"ipcviz: {snapshots[0].scenario}"}}]
    for name, tid in tracks.ids.items():
        meta.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": tid, "ts": 0,
                     "args": {"name": name}})
        meta.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid,
                     "ts": 0, "args": {"sort_index": tid}})
    return {"traceEvents": meta + events, "displayTimeUnit": "ms",
            "otherData": {"scenario": snapshots[0].scenario, "frames": len(snapshots),
                          "producer": "ipcviz export"}}


def _state_slices(snapshots: list[Snapshot], tracks: _Tracks) -> list[dict[str, Any]]:
    """One "X" slice per stretch of frames a worker spent in one state."""
    out: list[dict[str, Any]] = []
    open_: dict[str, tuple[str, int]] = {}  # worker -> (label, start)

    def close(name: str, end: int) -> None:
        label, start = open_.pop(name)
        if end > start:
            out.append({"ph": "X", "name": label, "cat": "state", "pid": PID,
                        "tid": tracks.tid(name), "ts": start, "dur": end - start})

    for snap in snapshots:
        now = micros(snap.elapsed)
        seen = set()
        for worker in snap.workers:
            if worker.name in seen:
                continue
            seen.add(worker.name)
            label = state_label(worker)
            current = open_.get(worker.name)
            if current is not None and current[0] == label:
                continue
            if current is not None:
                close(worker.name, now)
            if label is not None:
                open_[worker.name] = (label, now)
        for name in [n for n in open_ if n not in seen]:  # gone from the frame
            close(name, now)
    end = micros(snapshots[-1].elapsed)
    for name in list(open_):
        close(name, end)
    return out


def _flows(arrows: list[Arrow], tracks: _Tracks) -> list[dict[str, Any]]:
    """Each arrow: a slice at each end and the "s"/"f" pair joining them."""
    out: list[dict[str, Any]] = []
    used: set[tuple[int, int]] = set()

    def end_slice(name: str, at: float, label: str, args: dict[str, Any]) -> int:
        """A 1 µs slice on `name`'s track at `at` (moved on by a microsecond while another
        end already takes that one: two arrows never bind to one slice); its start."""
        tid = tracks.tid(name)
        ts = micros(at)
        while (tid, ts) in used:
            ts += 1
        used.add((tid, ts))
        out.append({"ph": "X", "name": label, "cat": "flow", "pid": PID, "tid": tid,
                    "ts": ts, "dur": 1, "args": args})
        return ts

    for number, arrow in enumerate(arrows, 1):
        if arrow.kind == "signal":
            sent_label = received_label = arrow.what
            unit = "signals"
        else:
            sent_label, received_label = f"send {arrow.what}", f"receive {arrow.what}"
            unit = "bytes" if arrow.kind == "bytes" else "messages"
        args = {"from": arrow.sender, "to": arrow.receiver, unit: arrow.count}
        category = f"{arrow.kind},{arrow.what}"
        start = end_slice(arrow.sender, arrow.sent_at, sent_label, args)
        finish = end_slice(arrow.receiver, max(arrow.received_at, start / 1_000_000),
                           received_label, args)  # never before its send was moved to
        out.append({"ph": "s", "name": arrow.what, "cat": category, "id": number,
                    "pid": PID, "tid": tracks.tid(arrow.sender), "ts": start + 0.5})
        out.append({"ph": "f", "bp": "e", "name": arrow.what, "cat": category,
                    "id": number, "pid": PID, "tid": tracks.tid(arrow.receiver),
                    "ts": finish + 0.5})
    return out


_MARK_WORDS = {"acquire": "acquired {what}", "release": "released {what}",
               "sent": "{what} ×{count} sent, not received",
               "arrived": "{what} ×{count} arrived, sender not known"}


def _instant(mark: Mark, tracks: _Tracks) -> dict[str, Any]:
    name = _MARK_WORDS[mark.kind].format(what=mark.what, count=mark.count)
    return {"ph": "i", "s": "t", "name": name, "cat": mark.kind, "pid": PID,
            "tid": tracks.tid(mark.worker), "ts": micros(mark.at)}


def _counter(state: ChannelState) -> tuple[str, str, int | None] | None:
    """The counter a channel's state has in the trace: its words, the argument's name and
    its value now (None: not known this frame); None for a state that has none. A pipe's
    or FIFO's buffered bytes, a message queue's depth, a shared array's lost updates."""
    if isinstance(state, PipeState):
        return "buffered bytes", "bytes", state.buffered
    if isinstance(state, QueueState):
        return "depth", "messages", state.depth
    if isinstance(state, ArrayState):
        return "lost updates", "updates", state.lost_updates
    return None


def _counters(snapshots: list[Snapshot]) -> list[dict[str, Any]]:
    """A "C" event for each channel counter, in the first frame and whenever it changes."""
    out: list[dict[str, Any]] = []
    last: dict[str, int | float] = {}
    for snap in snapshots:
        for channel in snap.channels:
            counted = _counter(channel.state)
            if counted is None:
                continue
            words, arg, value = counted
            if value is None:
                continue
            name = f"{channel.kind} {channel.name}: {words}"
            if last.get(name) == value:
                continue
            last[name] = value
            out.append({"ph": "C", "name": name, "pid": PID, "tid": 0,
                        "ts": micros(snap.elapsed), "args": {arg: value}})
    return out


__all__ = ["RUNTIME", "chrome_trace", "micros", "state_label"]
