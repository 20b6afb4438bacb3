"""Worker events are typed from the ring to the screen: each code's values go into the
ring by name and come out by name (`pack`/`unpack`, through a real shared table), the
frames carry them typed (and still read a recording whose events are only words), and
the log's words for each code are made in one place (tui/event_words.py): one test of
the words per code, the words being the point there."""

from __future__ import annotations

import json
import signal

import pytest

from ipcviz.telemetry import table as T
from ipcviz.telemetry.recording_file import frame_problem
from ipcviz.telemetry.ring_events import (EXIT_BY_HANDLER, EXIT_FAILED, EventCode,
                                          WorkerEvent, pack, unpack)
from ipcviz.telemetry.snapshot import EventView, Snapshot
from ipcviz.tui.event_words import event_words, words

E = EventCode
CHANNELS = ["p", "board", "jobs"]
ROWS = ["a", "b", ""]
SHAPES = {1: (4, 8)}


def _through_ring(code: EventCode, channel: int, **values: int) -> WorkerEvent | None:
    """Write one event into row 1 of a real telemetry table as a worker does, read it
    back as the runtime does."""
    table = T.Table(T.Layout(channels=len(CHANNELS), rows=2))
    try:
        base = table.row_base(1) + table.layout.event_base
        table.cells[base], table.cells[base + 1], table.cells[base + 2] = 5, code, channel
        table.cells[base + 3], table.cells[base + 4], table.cells[base + 5] = pack(code, values)
        table.cells[table.row_base(1) + T.EVENT_SEQ] = 1
        raw, seq, dropped = table.events_since(1, 0)
        assert (seq, dropped, len(raw)) == (1, 0, 1)
        t, got_code, got_channel, cells = raw[0]
        assert (t, got_code, got_channel) == (5, code, channel)
        return unpack(got_code, got_channel, cells, CHANNELS, ROWS, T.OP_NAMES, SHAPES)
    finally:
        table.close()


def test_values_go_in_and_come_out_by_name() -> None:
    """No value shares a cell: a large count beside a negative row, a 40-bit offset beside
    a size, an errno beside an operation, each comes back whole."""
    assert _through_ring(E.SENT, -1, signal=10, peer_row=-1, count=2_000_000) == WorkerEvent(
        E.SENT, signal=10, peer_row=-1, count=2_000_000)
    assert _through_ring(E.PAST_END, 0, number=1 << 40, value=4096) == WorkerEvent(
        E.PAST_END, "p", number=1 << 40, value=4096)
    write = T.OP_CODE["write"]
    assert _through_ring(E.FAILED, 0, error=28, op=write) == WorkerEvent(
        E.FAILED, "p", error=28, op="write")
    assert _through_ring(E.FAILED, -1, error=11, op=T.OP_CODE["spawn"]) == WorkerEvent(
        E.FAILED, error=11, op="spawn")


def test_names_are_looked_up_when_read() -> None:
    """The channel and the other worker by name (a row with no name yet: none), an array
    index as [row, col] of its shape, an unknown peer's uid and pid as None."""
    assert _through_ring(E.SPAWNED, -1, peer_row=1, pid=77) == WorkerEvent(
        E.SPAWNED, peer="b", peer_row=1, pid=77)
    assert _through_ring(E.SPAWNED, -1, peer_row=2, pid=78) == WorkerEvent(
        E.SPAWNED, peer_row=2, pid=78)
    assert _through_ring(E.STORED, 1, number=21, value=8) == WorkerEvent(
        E.STORED, "board", number=21, value=8, element=(2, 5))
    assert _through_ring(E.SET, 1, number=-1) == WorkerEvent(E.SET, "board", number=-1)
    assert _through_ring(E.PEER_REFUSED, 2, uid=-1, pid=-1, reason=1) == WorkerEvent(
        E.PEER_REFUSED, "jobs", uid=None, pid=None, reason=1)
    assert unpack(99, -1, (0, 0, 0), CHANNELS, ROWS, T.OP_NAMES, SHAPES) is None


def test_a_value_a_code_does_not_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="EOF carries"):
        pack(E.EOF, {"count": 1})


def test_frames_carry_the_typed_event_and_old_recordings_still_read() -> None:
    """The wire form names the code and keeps only the values there are; a frame read
    back has the same event. A frame of an old recording (words only) still reads, its
    words shown as they were."""
    event = WorkerEvent(E.STORED, "board", number=21, value=8, element=(2, 5))
    snap = Snapshot("s", 1.0, True, events=(EventView(0.5, "a", "", "io", 0.5, event),))
    wire = json.loads(json.dumps(snap.to_dict()))
    assert wire["events"][0]["event"] == {"code": "stored", "channel": "board",
                                          "number": 21, "value": 8, "element": [2, 5]}
    assert frame_problem(wire) is None
    assert Snapshot.from_dict(wire).events == snap.events
    old = {"scenario": "s", "elapsed": 1.0, "running": True,
           "events": [{"t": 0.5, "worker": "a", "text": "sent SIGUSR1 ×1 to b",
                       "kind": "signal"}]}
    assert frame_problem(old) is None
    (view,) = Snapshot.from_dict(old).events
    assert (view.event, event_words(view)) == (None, "sent SIGUSR1 ×1 to b")
    wire["events"][0]["event"]["code"] = "no_such_code"
    assert "should be an event code" in (frame_problem(wire) or "")


USR1 = int(signal.SIGUSR1)

#: one event of every code, and the words the log shows for it
WORDS = [
    (WorkerEvent(E.STARTED, pid=41), "started (pid 41)"),
    (WorkerEvent(E.SIGNAL, signal=USR1, reason=1), "SIGUSR1 handled (log)"),
    (WorkerEvent(E.EOF, "p"), "end of file on p: every writer has gone"),
    (WorkerEvent(E.EPIPE, "p", count=10),
     "write to p failed: EPIPE (no reader left) (failure #10)"),
    (WorkerEvent(E.EXITING, value=3, reason=EXIT_BY_HANDLER),
     "its exit handler ran: exiting with status 3"),
    (WorkerEvent(E.SENT, signal=USR1, count=3, peer="b", peer_row=1), "sent SIGUSR1 ×3 to b"),
    (WorkerEvent(E.WAITED, signal=USR1), "woke: SIGUSR1 arrived"),
    (WorkerEvent(E.BLOCK, signal=USR1, count=3), "blocked SIGUSR1 (+2 more)"),
    (WorkerEvent(E.UNBLOCK, signal=USR1, count=1), "unblocked SIGUSR1"),
    (WorkerEvent(E.SPAWNED, peer_row=2, pid=9), "spawned a child (pid 9)"),
    (WorkerEvent(E.REAPED, peer_row=2), "reaped row 2 (waitpid)"),
    (WorkerEvent(E.SPAWN_LIMIT, count=64), "spawn refused: all 64 child rows used"),
    (WorkerEvent(E.SET, "board", number=21, element=(2, 5)), "wrote board: element [2, 5]"),
    (WorkerEvent(E.READ_ARRAY, "board", value=259), "read board (sum 259)"),
    (WorkerEvent(E.SELF_READ, "p", count=5), "read its OWN message back from p (5 bytes)"),
    (WorkerEvent(E.SEND_FULL, "jobs"), "send to jobs failed: queue full (non-blocking)"),
    (WorkerEvent(E.RETRY, "jobs", number=4), "no ack in time: sent message #4 to jobs AGAIN"),
    (WorkerEvent(E.DUPLICATE, "jobs", number=4),
     "DUPLICATE: message #4 from jobs arrived before"),
    (WorkerEvent(E.FAILED, "jobs", error=28, op="send"),
     "send to jobs failed: ENOSPC (No space left on device); worker ends"),
    (WorkerEvent(E.PROCESS_CAP, count=512), "spawn refused: process cap 512 reached"),
    (WorkerEvent(E.PRIORITY, "jobs", number=9, count=4),
     "took a PRIORITY 9 message from jobs first, ahead of 4 still queued (highest priority "
     "first)"),
    (WorkerEvent(E.TORN_READ, "p", count=7),
     "TORN READ on p: saw 7 B of a record still being written"),
    (WorkerEvent(E.CALL_ANSWERED, "r", number=2, value=1500), "call #2 on r answered in 1.5 ms"),
    (WorkerEvent(E.CALL_TIMEOUT, "r", number=2, count=1, reason=1),
     "call #2 on r: NO ANSWER in time (attempt 1): sending the same call AGAIN"),
    (WorkerEvent(E.CALL_GAVE_UP, "r", number=2, count=3), "call #2 on r: GAVE UP after 3 attempts"),
    (WorkerEvent(E.CALL_RECONNECT, "r", number=2, count=1),
     "call #2 on r: connection LOST (attempt 1)"),
    (WorkerEvent(E.EXECUTED_TWICE, "r", number=2),
     "EXECUTED TWICE: call #2 on r was done before (a retry of work already done)"),
    (WorkerEvent(E.STALE_ANSWER, "r", number=1),
     "late answer to call #1 on r dropped (it was retried)"),
    (WorkerEvent(E.LOADED, "board", number=3, value=6, element=(3,)),
     "load board[3] → 6 (a copy in this worker)"),
    (WorkerEvent(E.STORED, "board", number=21, value=7, element=(2, 5)),
     "store board[2, 5] ← 7 (its copy + 1)"),
    (WorkerEvent(E.PEER_REFUSED, "s", uid=1000, pid=None, reason=1),
     "dropped a datagram on s from outside the run: uid 1000 pid ?"),
    (WorkerEvent(E.CLOSED_KEPT, "p", number=5, reason=1),
     "closed its own write end of p (fd 5), kept since fork"),
    (WorkerEvent(E.DISPOSITION, signal=USR1, reason=0), "set SIGUSR1 to SIG_IGN (sigaction)"),
    (WorkerEvent(E.INTERRUPTED, "p", count=2),
     "read from p INTERRUPTED: EINTR #2 (handler without SA_RESTART); reading again"),
    (WorkerEvent(E.RESTARTED, "p", count=1),
     "read from p returned data; 1 handler run(s) during it, the kernel restarted it each "
     "time (SA_RESTART): no EINTR"),
    (WorkerEvent(E.PAST_END, "region", number=4096, value=4096),
     "touches byte 4096 of region, past its end (4096 B now): no page behind it, the "
     "kernel sends SIGBUS"),
    (WorkerEvent(E.TRUNCATED, "region", value=8192), "truncated region to 8192 B (ftruncate)"),
    (WorkerEvent(E.UNLINKED, "region"),
     "unlinked region: its name is gone from /dev/shm (shm_unlink)"),
]


def test_every_code_has_a_test_of_its_words() -> None:
    assert {event.code for event, _ in WORDS} == set(EventCode)


@pytest.mark.parametrize(("event", "said"), WORDS, ids=[e.code.name for e, _ in WORDS])
def test_the_words_of_each_code(event: WorkerEvent, said: str) -> None:
    assert words(event) == said


def test_words_that_depend_on_a_value() -> None:
    """Where a value changes the sentence: the runtime as a target, the reason for
    exiting, a failed fork, a whole array set, a first failure."""
    assert words(WorkerEvent(E.SENT, signal=USR1, count=1, peer_row=-1)) == (
        "sent SIGUSR1 ×1 to parent (runtime)")
    assert words(WorkerEvent(E.EXITING, value=1, reason=EXIT_FAILED)) == (
        "a step failed: exiting with status 1")
    assert words(WorkerEvent(E.FAILED, error=11, op="spawn")).startswith(
        "spawn failed: fork() EAGAIN")
    assert words(WorkerEvent(E.SET, "board", number=-1)) == "wrote board: every element"
    assert words(WorkerEvent(E.EPIPE, "p", count=1)) == "write to p failed: EPIPE (no reader left)"
