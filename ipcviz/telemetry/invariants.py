"""The relations every frame keeps, checked: what a real run cannot break.

Each channel's state states its own relations (`ChannelState.relations`,
channels/state.py; `Channel.relations` in the kind's module for a family not typed yet);
this module adds the ones that tie workers and channels together (per-worker increments
add up to the array's, nobody waits for a lock it holds, no more signals received than
sent, a deadlock named stays named while its cycle stands) and the worker counters that
never go down. `ipcviz replay FILE --check` runs it over a recording; the tests run it
over every
bundled lesson recorded on a loaded machine; the sampler uses the channel relations to
know that a frame's numbers come from one moment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ipcviz.channels.lock_state import LockState
from ipcviz.channels.memory_state import ArrayState
from ipcviz.channels.state import Broken, DictState
from ipcviz.scenario.kinds import CHANNELS, channel_class
from ipcviz.telemetry.deadlock import cycle_stands, lives_of, locks_of
from ipcviz.telemetry.snapshot import ChannelView, Snapshot, WorkerView

__all__ = ["Violation", "channel_relations", "check_frame", "check_frames"]

#: a worker's counters (WorkerView fields, per channel) that only ever grow
WORKER_COUNTERS = ("bytes_written", "bytes_read", "messages_sent", "messages_received",
                   "increments")


@dataclass(frozen=True)
class Violation:
    """A relation one frame broke: the frame's index in its run (0 = the first), its
    time, the rule, what broke it (a channel or worker name) and the values."""

    frame: int
    t: float
    rule: str
    subject: str
    values: dict[str, Any]

    def line(self) -> str:
        """One line for a person: where, which rule, which values."""
        values = ", ".join(f"{k} {v}" for k, v in self.values.items())
        return f"frame {self.frame} (t={self.t:.3f} s): {self.subject}: {self.rule}: {values}"


@functools.cache
def _relations_of(kind: str) -> Callable[[Mapping[str, Any], Mapping[str, Any] | None],
                                          list[Broken]]:
    return channel_class(kind).relations


def channel_relations(channel: ChannelView, before: ChannelView | None) -> list[Broken]:
    """The relations `channel`'s state states (`ChannelState.relations`; for a family
    not typed yet, its kind's `Channel.relations` on its keys), broken ones returned (an
    unknown kind, as a newer recording may hold, has none)."""
    if channel.kind not in CHANNELS:
        return []
    state = channel.state
    if not isinstance(state, DictState):
        return state.relations(before.state if before else None)
    earlier = before.state if before is not None else None
    return _relations_of(channel.kind)(
        state.values, earlier.values if isinstance(earlier, DictState) else None)


def check_frame(frame: Snapshot, before: Snapshot | None = None, index: int = 0
                ) -> list[Violation]:
    """Every relation `frame` breaks, alone and against the frame `before` it."""
    out: list[Violation] = []

    def broke(subject: str, rule: str, values: dict[str, Any]) -> None:
        out.append(Violation(index, frame.elapsed, rule, subject, values))

    for channel in frame.channels:
        earlier = before.channel(channel.name) if before is not None else None
        for rule, values in channel_relations(channel, earlier):
            broke(channel.name, rule, values)
    _arrays_add_up(frame, broke)
    _deadlock_rules(frame, before, broke)
    for worker in frame.workers:
        _worker_rules(frame, worker, before.worker(worker.name) if before else None, broke)
    return out


def check_frames(frames: Iterable[Snapshot]) -> Iterator[Violation]:
    """The violations of a run's frames, in order (each frame against the one before)."""
    before = None
    for index, frame in enumerate(frames):
        yield from check_frame(frame, before, index)
        before = frame


Broke = Callable[[str, str, dict[str, Any]], None]


def _arrays_add_up(frame: Snapshot, broke: Broke) -> None:
    """The workers' own increment counts add up to the array's."""
    for channel in frame.channels:
        if not isinstance(channel.state, ArrayState):
            continue
        total = channel.state.increments
        if total is None:
            continue
        mine = {w.name: w.increments.get(channel.name, 0) for w in frame.workers
                if w.increments.get(channel.name)}
        if sum(mine.values()) != total:
            broke(channel.name, "per-worker increments add up to the array's",
                  {"array": total, **mine})


def _deadlock_rules(frame: Snapshot, before: Snapshot | None, broke: Broke) -> None:
    """A deadlock named stays named while its cycle stands (the same live workers, each
    lock still at 0 and held by the next worker: nothing in it moves by itself), and
    every worker of a named cycle is shown waiting for its lock (or stopped)."""
    cycle = frame.deadlock
    if cycle:
        workers, sems = cycle[0::2], cycle[1::2]
        for name, sem in zip(workers, sems):
            worker = frame.worker(name)
            state = worker.state if worker is not None else "gone"
            waits = worker is not None and worker.waiting is not None and (
                worker.waiting.op, worker.waiting.on) == ("acquire", sem)
            if not (state == "stopped" or state == "blocked" and waits):
                broke(name, "a worker of a named deadlock waits for its lock",
                      {"lock": sem, "state": state})
    named = before.deadlock if before is not None else None
    if named and before is not None and cycle != named and cycle_stands(
            named, lives_of(before.workers), lives_of(frame.workers),
            locks_of(frame.channels)):
        broke("deadlock", "a deadlock stays named while its cycle stands",
              {"named before": " → ".join(named), "now": " → ".join(cycle or ()) or "none"})


def _worker_rules(frame: Snapshot, worker: WorkerView, before: WorkerView | None,
                  broke: Broke) -> None:
    waiting = worker.waiting
    if worker.state == "blocked" and waiting is not None and waiting.op == "acquire":
        sem = frame.channel(waiting.on) if waiting.on else None
        holders = ([h.name for h in sem.state.holders or ()]
                   if sem is not None and isinstance(sem.state, LockState) else [])
        if worker.name in holders:
            broke(worker.name, "nobody waits for a lock it holds", {"lock": waiting.on})
    sent = worker.signals_sent_to
    for sig, got in worker.signals_received.items():
        # a signal nobody in the run sent came from another sender (the kernel's SIGCHLD,
        # a shell): only signals the run sent are bounded by what it sent
        if sig in sent and got > sent[sig]:
            broke(worker.name, "received signals <= sent",
                  {"signal": sig, "received": got, "sent": sent[sig]})
    if before is None or before.pid != worker.pid or before.restarts != worker.restarts:
        return
    for field in WORKER_COUNTERS:
        now, then = getattr(worker, field), getattr(before, field)
        for channel, count in then.items():
            if now.get(channel, 0) < count:
                broke(worker.name, "counters never go down",
                      {f"{field} {channel}": now.get(channel, 0), "before": count})
    for sig, count in before.signals_received.items():
        if worker.signals_received.get(sig, 0) < count:
            broke(worker.name, "counters never go down",
                  {f"received {sig}": worker.signals_received.get(sig, 0), "before": count})
