"""The words of the event log: what a worker's typed event (telemetry/ring_events.py) says
to a person, made here, where it is shown, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable

from ipcviz.scenario.op_words import DISPOSITIONS
from ipcviz.signals import signal_name
from ipcviz.telemetry.events import failure_text
from ipcviz.telemetry.ring_events import (EXIT_BY_HANDLER, EXIT_BY_STEP, EXIT_FAILED,
                                          EventCode, WorkerEvent)
from ipcviz.telemetry.snapshot import EventView

__all__ = ["event_words", "words"]

E = EventCode
Words = Callable[[WorkerEvent], str]


def event_words(view: EventView) -> str:
    """The line the log shows for `view`: its event's words, or the runtime's own text
    (and an old recording's, which has only text)."""
    return view.text if view.event is None else words(view.event)


def words(event: WorkerEvent) -> str:
    """One worker event in words: "sent SIGUSR1 ×3 to b", "end of file on p: every
    writer has gone"."""
    return _WORDS[event.code](event)


def _sig(event: WorkerEvent) -> str:
    return signal_name(event.signal or 0)


def _peer(event: WorkerEvent) -> str:
    """The other worker: its name, or its row while it has none."""
    return event.peer or f"row {event.peer_row}"


def _target(event: WorkerEvent) -> str:
    if event.peer_row is not None and event.peer_row < 0:
        return "parent (runtime)"
    return _peer(event)


def _element(event: WorkerEvent) -> str:
    """[i], or [row, col] in a 2-D array."""
    return "[" + ", ".join(map(str, event.element or ())) + "]"


def _set(event: WorkerEvent) -> str:
    element = event.element
    if element is None:
        where = "every element"
    elif len(element) == 2:
        where = f"element [{element[0]}, {element[1]}]"
    else:
        where = f"element {element[0]}"
    return f"wrote {event.channel}: {where}"


def _exiting(event: WorkerEvent) -> str:
    why = {EXIT_BY_HANDLER: "its exit handler ran: exiting",
           EXIT_BY_STEP: "exit step: exiting",
           EXIT_FAILED: "a step failed: exiting"}.get(event.reason or 0, "steps done, exiting")
    return f"{why} with status {event.value}"


def _masks(verb: str) -> Words:
    def said(event: WorkerEvent) -> str:
        more = (event.count or 0) - 1
        return f"{verb} {_sig(event)}" + (f" (+{more} more)" if more > 0 else "")
    return said


def _peer_refused(event: WorkerEvent) -> str:
    who = (f"uid {'?' if event.uid is None else event.uid} "
           f"pid {'?' if event.pid is None else event.pid}")
    if event.reason:
        return f"dropped a datagram on {event.channel} from outside the run: {who}"
    return f"refused a connection on {event.channel} from outside the run: {who}"


def _ms(micros: int) -> str:
    return f"{micros / 1000:.1f} ms" if micros < 1_000_000 else f"{micros / 1e6:.2f} s"


def _timeout(event: WorkerEvent) -> str:
    again = ": sending the same call AGAIN" if event.reason else ""
    return (f"call #{event.number} on {event.channel}: NO ANSWER in time (attempt "
            f"{event.count}){again}")


def _disposition(event: WorkerEvent) -> str:
    action = event.reason if event.reason is not None else -1
    what = DISPOSITIONS[action] if 0 <= action < len(DISPOSITIONS) else "?"
    return f"set {_sig(event)} to {what} (sigaction)"


_WORDS: dict[EventCode, Words] = {
    E.STARTED: lambda e: f"started (pid {e.pid})",
    E.SIGNAL: lambda e: f"{_sig(e)} " + {1: "handled (log)", 2: "handled: exiting"}.get(
        e.reason or 0, "handled"),
    E.EOF: lambda e: f"end of file on {e.channel}: every writer has gone",
    E.EPIPE: lambda e: f"write to {e.channel} failed: EPIPE (no reader left)" + (
        f" (failure #{e.count})" if (e.count or 0) > 1 else ""),
    E.EXITING: _exiting,
    E.SENT: lambda e: f"sent {_sig(e)} ×{e.count} to {_target(e)}",
    E.SPAWNED: lambda e: f"spawned {e.peer or 'a child'} (pid {e.pid})",
    E.REAPED: lambda e: f"reaped {_peer(e)} (waitpid)",
    E.SPAWN_LIMIT: lambda e: f"spawn refused: all {e.count} child rows used",
    E.PROCESS_CAP: lambda e: f"spawn refused: process cap {e.count} reached",
    E.SELF_READ: lambda e: f"read its OWN message back from {e.channel} ({e.count} bytes)",
    E.SEND_FULL: lambda e: f"send to {e.channel} failed: queue full (non-blocking)",
    E.PRIORITY: lambda e: (f"took a PRIORITY {e.number} message from {e.channel} first, "
                           f"ahead of {e.count} still queued (highest priority first)"),
    E.RETRY: lambda e: f"no ack in time: sent message #{e.number} to {e.channel} AGAIN",
    E.DUPLICATE: lambda e: f"DUPLICATE: message #{e.number} from {e.channel} arrived before",
    E.TORN_READ: lambda e: (f"TORN READ on {e.channel}: saw {e.count} B of a record still "
                            "being written"),
    E.CALL_ANSWERED: lambda e: (f"call #{e.number} on {e.channel} answered in "
                                f"{_ms(e.value or 0)}"),
    E.CALL_TIMEOUT: _timeout,
    E.CALL_RECONNECT: lambda e: (f"call #{e.number} on {e.channel}: connection LOST "
                                 f"(attempt {e.count})"),
    E.CALL_GAVE_UP: lambda e: f"call #{e.number} on {e.channel}: GAVE UP after {e.count} attempts",
    E.EXECUTED_TWICE: lambda e: (f"EXECUTED TWICE: call #{e.number} on {e.channel} was done "
                                 "before (a retry of work already done)"),
    E.STALE_ANSWER: lambda e: (f"late answer to call #{e.number} on {e.channel} dropped (it "
                               "was retried)"),
    E.SET: _set,
    E.LOADED: lambda e: f"load {e.channel}{_element(e)} → {e.value} (a copy in this worker)",
    E.STORED: lambda e: f"store {e.channel}{_element(e)} ← {e.value} (its copy + 1)",
    E.PEER_REFUSED: _peer_refused,
    E.CLOSED_KEPT: lambda e: (f"closed its own {'write' if e.reason else 'read'} end of "
                              f"{e.channel} (fd {e.number}), kept since fork"),
    E.DISPOSITION: _disposition,
    E.INTERRUPTED: lambda e: (f"read from {e.channel} INTERRUPTED: EINTR #{e.count} (handler "
                              "without SA_RESTART); reading again"),
    E.RESTARTED: lambda e: (f"read from {e.channel} returned data; {e.count} handler run(s) "
                            "during it, the kernel restarted it each time (SA_RESTART): no "
                            "EINTR"),
    E.PAST_END: lambda e: (f"touches byte {e.number} of {e.channel}, past its end ({e.value} B "
                           "now): no page behind it, the kernel sends SIGBUS"),
    E.TRUNCATED: lambda e: f"truncated {e.channel} to {e.value} B (ftruncate)",
    E.UNLINKED: lambda e: f"unlinked {e.channel}: its name is gone from /dev/shm (shm_unlink)",
    E.READ_ARRAY: lambda e: f"read {e.channel} (sum {e.value})",
    E.WAITED: lambda e: f"woke: {_sig(e)} arrived",
    E.BLOCK: _masks("blocked"),
    E.UNBLOCK: _masks("unblocked"),
    E.FAILED: lambda e: failure_text(e.error or 0, e.op or "step", e.channel) + "; worker ends",
}

if _WORDS.keys() != set(EventCode):
    raise RuntimeError("every event code has its words")
