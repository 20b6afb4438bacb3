"""Who sent what to whom, and when it arrived: the arrows of a run, from its Snapshots.

A Snapshot carries counters (each worker's bytes and messages per channel, the signals it
received) and the events new since the last frame, each with its own time. An arrow joins
a send to its receipt, so a message that waited in a queue is a long arrow:

- **bytes and messages** (pipes, FIFOs, sockets: bytes; queues and message queues:
  messages): each frame, a worker's counter that grew is a batch sent or received at the
  frame's time. A channel is first in, first out, so receipts are paired with the oldest
  sends still unpaired; a receipt spanning two sends makes two arrows. A socket carries
  two directions: what its server writes goes to the clients, what the others write goes
  to the server. A message queue's priorities are not known here: its arrows pair in the
  order of sending.
- **signals**: a send is an event ("sent SIGUSR1 ×3 to b" from a worker's step,
  "timeline: SIGINT ×5 sent" on the target for the runtime's own), a receipt is a growth
  of the target's `signals_received` (at the time of its "handled"/"woke" event when the
  frame has one) or a "killed by SIGKILL" event. Standard signals merge while pending, so
  more may be sent than received: the sends left unpaired are marks, never arrows. What
  the kernel sends (SIGCHLD, SIGPIPE) has no send event: its receipt is a mark.
- **acquires and releases** of semaphores: a holder that appears or disappears between
  two frames.

Counters that go down (a restarted worker counts again from zero) count from zero.
`Sequence` is fed frame by frame: the same code serves a whole recording (export, on the
wall clock: a trace shows real durations) and a live run (the timeline panel, on the run
clock, as the event log and the header count: `run_clock=True`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from ipcviz.channels.lock_state import LockState
from ipcviz.channels.rpc_state import RpcState
from ipcviz.channels.state import SocketState
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.signals import signal_name
from ipcviz.telemetry.ring_events import EventCode, WorkerEvent
from ipcviz.telemetry.moved import moved_workers
from ipcviz.telemetry.snapshot import Holder, Snapshot, WorkerView

#: the name arrows use for the ipcviz runtime as a sender or receiver of signals
RUNTIME = "ipcviz runtime"

#: channel kind -> (unit, the sender's counter, the receiver's counter)
STREAMS: dict[str, tuple[str, str, str]] = {
    "pipe": ("bytes", "bytes_written", "bytes_read"),
    "fifo": ("bytes", "bytes_written", "bytes_read"),
    "socket": ("bytes", "bytes_written", "bytes_read"),
    "queue": ("message", "messages_sent", "messages_received"),
    "mqueue": ("message", "messages_sent", "messages_received"),
}

# every message queue kind (the "messages" family of kinds.CHANNELS) is one too
STREAMS.update({kind: ("message", "messages_sent", "messages_received")
                for kind, row in CHANNELS.items() if row.counters == "messages"})

#: signals the kernel sends (a child ended, a write found no reader): a receipt with no
#: send waiting for it is marked as it arrives, not kept for a send that never comes
KERNEL_SENT = frozenset({"SIGCHLD", "SIGPIPE"})

#: the worker counters of what went through stream channels
_STREAM_COUNTERS = ("bytes_written", "bytes_read", "messages_sent", "messages_received")

_SENT_BY_WORKER = re.compile(r"sent (SIG[A-Z0-9+-]+) ×(\d+) to (.+)")
_SENT_BY_RUNTIME = re.compile(r"[a-z]+: (SIG[A-Z0-9+-]+)(?: ×(\d+))? sent(?: \(.*\))?")
_HANDLED = re.compile(r"(?:(SIG[A-Z0-9+-]+) handled.*|woke: (SIG[A-Z0-9+-]+) arrived)")
_KILLED = re.compile(r"killed by (SIG[A-Z0-9+-]+)")


@dataclass(frozen=True)
class Arrow:
    """`count` units (bytes, messages or signals) of `what` (a channel or a signal's name)
    sent by `sender` at `sent_at` and received by `receiver` at `received_at` (seconds)."""

    kind: str
    """"bytes", "message" or "signal"."""
    what: str
    sender: str
    receiver: str
    sent_at: float
    received_at: float
    count: int


@dataclass(frozen=True)
class Mark:
    """Something one worker did alone at `at`: "acquire" or "release" of semaphore
    `what`, or a signal "sent" that nothing received (merged, or the target ended) or
    "arrived" with no sender known (SIGCHLD from the kernel, a key's SIGKILL)."""

    kind: str
    worker: str
    what: str
    at: float
    count: int = 1
    unit: str = "signal"
    """What `count` counts: "bytes", "message" or "signal"."""


class _Batch:
    """Units one worker sent or received at one time, `left` of them not yet paired."""

    __slots__ = ("who", "at", "left")

    def __init__(self, who: str, at: float, left: int) -> None:
        self.who, self.at, self.left = who, at, left


class Sequence:
    """Arrows and marks of a run, worked out one Snapshot at a time (`add`)."""

    def __init__(self, run_clock: bool = False) -> None:
        """`run_clock`: times are the run clock's (a frame's `run_time`, an event's), not
        the wall clock's, where the frames have them."""
        self._run_clock = run_clock
        self._counts: dict[tuple[str, str, str], int] = {}
        """(worker, counter, key) -> its value in the last frame that had the worker."""
        self._sends: dict[tuple[str, ...], deque[_Batch]] = {}
        self._receipts: dict[tuple[str, ...], deque[_Batch]] = {}
        self._holders: dict[str, Counter[str]] = {}
        self.arrows: list[Arrow] = []
        self.marks: list[Mark] = []
        self.waiting: list[Mark] = []
        """"send" marks: sends that had no receipt yet in the frame they were seen in (a
        message left in a queue): drawn at their own time, their arrow comes later."""
        self._new: list[tuple[str, str, _Batch]] = []
        #: the last frame taken in, and its stream channels: a worker whose view is the
        #: same object now has the same counters, nothing grew (telemetry/moved.py)
        self._before: Snapshot | None = None
        self._streams_before: dict[str, tuple[tuple[str, str, str], object]] = {}

    def _on_run_clock(self, snap: Snapshot) -> bool:
        """Whether this frame's times are taken on the run clock (it has one)."""
        return self._run_clock and snap.run_time is not None

    def add(self, snap: Snapshot) -> None:
        """Take in the next frame: its new arrows and marks are appended."""
        at = snap.run_time if self._on_run_clock(snap) and snap.run_time is not None \
            else snap.elapsed
        moved = moved_workers(self._before, snap)
        self._signals(snap, moved)
        streams: dict[str, tuple[tuple[str, str, str], object]] = {}
        for channel in snap.channels:
            stream = STREAMS.get(channel.kind)
            if stream is not None:
                state = channel.state
                server = state.server if isinstance(state, (SocketState, RpcState)) else None
                streams.setdefault(channel.name, (stream, server))
            elif isinstance(channel.state, LockState):
                self._semaphore(channel.name, channel.state.holders or (), at)
        if streams:
            self._streams(snap if moved is None or streams != self._streams_before
                          else [snap.workers[i] for i in moved], streams, at)
        self._before, self._streams_before = snap, streams
        for unit, what, batch in self._new:
            if batch.left:
                self.waiting.append(Mark("send", batch.who, what, batch.at, batch.left, unit))
        self._new.clear()

    def drain(self) -> tuple[list[Arrow], list[Mark], list[Mark]]:
        """The arrows, marks and waiting sends made since the last drain, handed over and
        forgotten here (a live run's panel keeps its own bounded rows: a Sequence that
        kept every arrow of an hour's run would grow for the hour)."""
        out = (self.arrows, self.marks, self.waiting)
        self.arrows, self.marks, self.waiting = [], [], []
        return out

    def unpaired(self) -> list[Mark]:
        """The signals not paired (yet), in time order: "sent" marks on their senders
        (merged while pending, or the target ended), "arrived" marks on their receivers
        (no send known: SIGCHLD from the kernel, a key's SIGKILL)."""
        out = []
        for kind, queues in (("sent", self._sends), ("arrived", self._receipts)):
            for key, queue in queues.items():
                if key[0] == "signal":
                    out += [Mark(kind, b.who, key[2], b.at, b.left) for b in queue if b.left]
        return sorted(out, key=lambda m: m.at)

    def _grown(self, worker: str, counter: str, key: str, value: int) -> int:
        """How much a counter grew since the last frame (a counter that went down was
        reset by a restart: all of it is new)."""
        slot = (worker, counter, key)
        before = self._counts.get(slot, 0)
        self._counts[slot] = value
        return value if value < before else value - before

    def _streams(self, workers: Snapshot | list[WorkerView],
                 streams: dict[str, tuple[tuple[str, str, str], object]], at: float) -> None:
        """Each worker's counters of stream channels that grew: a batch each (one pass
        over the workers' counters, not one per channel: 64 workers and 24 channels).
        `workers`: a frame's, or those of them that moved since the last frame."""
        for worker in workers.workers if isinstance(workers, Snapshot) else workers:
            for counter in _STREAM_COUNTERS:
                counts = getattr(worker, counter)
                if not counts:
                    continue
                for name, value in counts.items():
                    spec = streams.get(name)
                    if spec is None or not value:
                        continue
                    (unit, sent, received), server = spec
                    if counter not in (sent, received):
                        continue
                    grown = self._grown(worker.name, counter, name, value)
                    if grown <= 0:
                        continue
                    sending = counter == sent
                    toward = "" if server is None else (
                        "from" if (worker.name == server) == sending else "to")
                    key = (unit, name, toward)
                    queues = self._sends if sending else self._receipts
                    batch = _Batch(worker.name, at, grown)
                    queues.setdefault(key, deque()).append(batch)
                    if sending:
                        self._new.append((unit, name, batch))
                    self._pair(key)

    def _signals(self, snap: Snapshot, moved: list[int] | None) -> None:
        run_clock = self._on_run_clock(snap)
        at = snap.run_time if run_clock and snap.run_time is not None else snap.elapsed
        handled: dict[tuple[str, str], list[float]] = {}
        for event in snap.events:
            text = event.text
            when = event.shown_t if run_clock else event.t
            typed = event.event
            if typed is not None:  # a worker's event (an old recording's is only words)
                self._worker_signal(event.worker, typed, when, handled)
            elif event.kind == "signal":
                match = _SENT_BY_WORKER.fullmatch(text)
                if match:
                    target = match[3]
                    if target.startswith("parent"):
                        target = RUNTIME
                    self._signal_sent(event.worker, target, match[1], int(match[2]), when)
                    continue
                match = _SENT_BY_RUNTIME.fullmatch(text)
                if match:
                    count = int(match[2] or 1)
                    self._signal_sent(RUNTIME, event.worker, match[1], count, when)
                    continue
                match = _HANDLED.fullmatch(text)
                if match:
                    handled.setdefault((event.worker, match[1] or match[2]), []).append(when)
            elif event.kind == "exit":
                match = _KILLED.fullmatch(text)
                if match:
                    self._signal_received(event.worker, match[1], 1, when)
        for worker in snap.workers if moved is None else [snap.workers[i] for i in moved]:
            for sig, value in worker.signals_received.items():
                self._received_count(worker.name, sig, value, at, handled)
        for sig, value in snap.parent_signals.get("signals_received", {}).items():
            self._received_count(RUNTIME, sig, value, at, handled)

    def _worker_signal(self, worker: str, event: WorkerEvent, when: float,
                       handled: dict[tuple[str, str], list[float]]) -> None:
        """A worker's event that is a signal's: one it sent, or one it handled."""
        if event.code is EventCode.SENT:
            target = RUNTIME if (event.peer_row or 0) < 0 else (
                event.peer or f"row {event.peer_row}")
            self._signal_sent(worker, target, signal_name(event.signal or 0),
                              event.count or 0, when)
        elif event.code in (EventCode.SIGNAL, EventCode.WAITED):
            handled.setdefault((worker, signal_name(event.signal or 0)), []).append(when)

    def _received_count(self, worker: str, sig: str, value: int, at: float,
                        handled: dict[tuple[str, str], list[float]]) -> None:
        grown = self._grown(worker, "signals_received", sig, value)
        if grown <= 0:
            return
        times = sorted(handled.get((worker, sig), ()))[:grown]
        for t in times:
            self._signal_received(worker, sig, 1, t)
        if grown > len(times):
            self._signal_received(worker, sig, grown - len(times), at)

    def _signal_sent(self, sender: str, target: str, sig: str, count: int, at: float) -> None:
        key = ("signal", target, sig)
        batch = _Batch(sender, at, count)
        self._sends.setdefault(key, deque()).append(batch)
        self._new.append(("signal", sig, batch))
        self._pair(key)

    def _signal_received(self, worker: str, sig: str, count: int, at: float) -> None:
        key = ("signal", worker, sig)
        if sig in KERNEL_SENT and not self._sends.get(key):
            self.marks.append(Mark("arrived", worker, sig, at, count))  # from the kernel
            return
        self._receipts.setdefault(key, deque()).append(_Batch(worker, at, count))
        self._pair(key)

    def _pair(self, key: tuple[str, ...]) -> None:
        """Arrows from the oldest unpaired sends to the oldest unpaired receipts."""
        sends, receipts = self._sends.get(key), self._receipts.get(key)
        if not sends or not receipts:
            return
        kind, what = key[0], key[1] if key[0] != "signal" else key[2]
        while sends and receipts:
            send, receipt = sends[0], receipts[0]
            count = min(send.left, receipt.left)
            self.arrows.append(Arrow(kind, what, send.who, receipt.who, send.at,
                                     max(send.at, receipt.at), count))
            send.left -= count
            receipt.left -= count
            if not send.left:
                sends.popleft()
            if not receipt.left:
                receipts.popleft()

    def _semaphore(self, name: str, holders: Iterable[Holder], at: float) -> None:
        now = Counter(h.name for h in holders)
        before = self._holders.get(name, Counter())
        for worker in sorted(now.keys() | before.keys()):
            change = now[worker] - before[worker]
            if change:
                kind = "acquire" if change > 0 else "release"
                self.marks.append(Mark(kind, worker, name, at, abs(change)))
        self._holders[name] = now


def sequence_of(snapshots: list[Snapshot]) -> Sequence:
    """The Sequence of a whole recording."""
    sequence = Sequence()
    for snap in snapshots:
        sequence.add(snap)
    return sequence
