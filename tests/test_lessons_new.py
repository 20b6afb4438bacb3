"""The course's newer bundled lessons, run for real: each one's point in exact counts from
its `--json` summary (and, where a panel says it, from a live frame)."""

from __future__ import annotations

from .conftest import SCENARIOS, run_scenario
from .live import LiveRun


def _failed(summary: dict) -> list[dict]:
    return [r for r in summary["expect"] if not r["ok"]]


def test_one_fifo_both_ways_reads_its_own_words_back(nothing_left_behind) -> None:
    """Each worker writes 8 bytes and reads 8 at once from the one FIFO: every read
    returns the reader's own words, 5 of 5 each, and every byte written is read."""
    summary = run_scenario(SCENARIOS / "fifo_both_ways.yaml", "--check")
    assert _failed(summary) == []
    for name in ("ann", "ben"):
        worker = summary["workers"][name]
        assert (worker["self_reads"], worker["exit"]) == (5, 0)
        assert worker["bytes_written"] == {"talk": 40}
        assert worker["bytes_read"] == {"talk": 40}
    talk = summary["channels"]["talk"]
    assert (talk["kind"], talk["bytes_written"], talk["bytes_read"], talk["buffered"]) == (
        "fifo", 80, 80, 0)
    assert talk["last_read"] == {"ann": ["ann here", 8], "ben": ["ben here", 8]}
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_mailbox_gives_each_message_to_whoever_asks(nothing_left_behind) -> None:
    """Two senders, two receivers, one POSIX queue: 6 + 6 sent, r1 takes 4 and exits, r2
    takes the other 8 (from both senders); nothing is left in the queue."""
    summary = run_scenario(SCENARIOS / "mailbox_indirect.yaml", "--check")
    assert _failed(summary) == []
    workers = summary["workers"]
    assert workers["ann"]["messages_sent"] == {"mailbox": 6}
    assert workers["bob"]["messages_sent"] == {"mailbox": 6}
    assert workers["r1"]["messages_received"] == {"mailbox": 4}
    assert workers["r1"]["exit"] == 0
    assert workers["r2"]["messages_received"] == {"mailbox": 8}
    assert workers["r2"]["blocked_on"] == "receive mailbox"  # waits for a 13th
    assert all(w["self_reads"] == 0 for w in workers.values())
    box = summary["channels"]["mailbox"]
    assert (box["messages_sent"], box["messages_received"], box["depth"]) == (12, 12, 0)
    assert (box["bytes_sent"], box["bytes_received"]) == (96, 96)
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_semaphore_of_three_lets_three_in_a_mutex_one(nothing_left_behind) -> None:
    """The kernel's value read on every frame: 3 places taken at most of `room`, 1 of
    `desk`; every guest and clerk got in twice and left, so both are free again."""
    summary = run_scenario(SCENARIOS / "counting_semaphore.yaml", "--check")
    assert _failed(summary) == []
    room, desk = summary["channels"]["room"], summary["channels"]["desk"]
    assert (room["max_held"], room["held"], room["value"], room["holders"]) == (3, 0, 3, [])
    assert (desk["max_held"], desk["held"], desk["value"], desk["holders"]) == (1, 0, 1, [])
    workers = summary["workers"]
    assert sorted(workers) == sorted([f"guest.{i}" for i in range(8)]
                                     + [f"clerk.{i}" for i in range(4)])
    assert all(w["exit"] == 0 for w in workers.values())
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_the_locks_panel_counts_the_places_taken(nothing_left_behind) -> None:
    """A frame with the room full: the panel's line says 3 of 3 taken and as many
    waiting as the frame's waiters, and no frame ever has more than 3 inside."""
    from ipcviz.tui.widgets.locks import room_line

    most = 0
    with LiveRun(str(SCENARIOS / "counting_semaphore.yaml")) as run:
        def full(snap) -> bool:
            nonlocal most
            room = snap.channel("room").data
            if room.get("value") is not None:
                most = max(most, 3 - room["value"])
            return room.get("value") == 0 and len(room.get("waiters", ())) == 5

        snap = run.wait_for(full, timeout=20)
        line = room_line(snap.channel("room")).plain
        assert line == " room: 3 of 3 places taken, most at once 3 · 5 waiting"
        assert len(snap.channel("room").data["holders"]) == 3
        assert snap.channel("desk").data["max_held"] == 1
    assert most == 3


EMPTY_POLLS = """
version: 1
duration: 10
channels:
  mq: {kind: mqueue, capacity: 2, message_size: 64}
  q: {kind: queue, capacity: 2}
workers:
  poll:
    steps:
      - repeat: {times: 7, steps: [{receive: {from: mq, block: false}}]}
      - repeat: {times: 5, steps: [{receive: {from: q, block: false}}]}
      - receive: {from: mq, timeout: 0.2}
      - send: {to: mq, data: "x"}
      - receive: {from: mq, block: false}
"""


def test_an_empty_non_blocking_receive_is_counted_once_each(nothing_left_behind) -> None:
    """7 non-blocking receives on an empty POSIX queue and 5 on an empty `queue` are each
    one EAGAIN; a receive that times out is no EAGAIN, nor is one that finds a message."""
    from ipcviz.runtime.headless import run_headless
    from ipcviz.scenario.load import load_text

    summary = run_headless(load_text(EMPTY_POLLS.encode(), "polls.yaml")).summary
    mq, q = summary["channels"]["mq"], summary["channels"]["q"]
    assert (mq["empty_receives"], mq["messages_received"], mq["depth"]) == (7, 1, 0)
    assert (q["empty_receives"], q["messages_received"]) == (5, 0)
    assert summary["workers"]["poll"]["exit"] == 0
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_a_blocking_receiver_never_comes_back_empty_a_poller_does(nothing_left_behind
                                                                   ) -> None:
    """Both receivers get the postman's 4 messages; the blocking one returns only with a
    message (0 empty), the polling one returns empty over and over."""
    summary = run_scenario(SCENARIOS / "nonblocking_receive.yaml", "--check")
    assert _failed(summary) == []
    workers, channels = summary["workers"], summary["channels"]
    assert workers["postman"]["messages_sent"] == {"inbox_a": 4, "inbox_b": 4}
    assert workers["waiter"]["messages_received"] == {"inbox_a": 4}
    assert workers["poller"]["messages_received"] == {"inbox_b": 4}
    assert workers["waiter"]["blocked_on"] == "receive inbox_a"
    assert channels["inbox_a"]["empty_receives"] == 0
    assert channels["inbox_b"]["empty_receives"] > 1000
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_the_accept_queue_is_read_from_the_kernel() -> None:
    """A real listener: 3 connections handshaken and not accepted are 3 in its accept
    queue (/proc/net/tcp, as `ss -lt` shows Recv-Q); each accept() takes one."""
    import socket

    from ipcviz.channels.tcp_table import accept_queue

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    clients: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        assert accept_queue(port) is None  # bound, not listening yet
        listener.listen(8)
        assert accept_queue(port) == 0
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port))
            clients.append(client)
        assert accept_queue(port) == 3
        conn, _ = listener.accept()
        conn.close()
        assert accept_queue(port) == 2
    finally:
        for client in clients:
            client.close()
        listener.close()


def test_connections_wait_in_the_accept_queue_until_the_server_accepts(
        nothing_left_behind) -> None:
    """The server sleeps 2 s before accept(): the 4 clients' connections all wait in the
    accept queue at once, then are accepted and echoed, 5 bytes each way per client."""
    summary = run_scenario(SCENARIOS / "tcp_handshake.yaml", "--check")
    assert _failed(summary) == []
    door = summary["channels"]["door"]
    assert (door["max_accept_queue"], door["accept_queue"]) == (4, 0)
    assert (door["bytes_written"], door["bytes_read"]) == (40, 40)
    workers = summary["workers"]
    assert workers["server"]["bytes_read"] == {"door": 20}
    assert workers["server"]["bytes_written"] == {"door": 20}
    assert workers["server"]["exit"] == 0  # four echoes, then done: the listener is closed
    for name in ("ana", "bo", "cy", "di"):
        assert (workers[name]["exit"], workers[name]["bytes_read"]) == (0, {"door": 5})
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_the_sockets_panel_says_who_waits_in_the_accept_queue(nothing_left_behind) -> None:
    """A live frame with the four connections queued: the socket's line says so; once
    the server has accepted them, the queue is empty and the most is still 4."""
    from ipcviz.channels.state import SocketState
    from ipcviz.tui.widgets.pipes import socket_notes

    with LiveRun(str(SCENARIOS / "tcp_handshake.yaml")) as run:
        full = run.wait_for(lambda s: s.channel("door").data.get("accept_queue") == 4,
                            timeout=20)
        door = full.channel("door")
        assert isinstance(door.state, SocketState)
        line = socket_notes(door, full, door.state)[0].plain
        assert line.endswith("accept queue (ss -lt Recv-Q): 4 handshaken, waiting for "
                             "accept() · most 4")
        assert all(full.worker(n).state == "blocked" for n in ("ana", "bo", "cy", "di"))
        done = run.wait_for(lambda s: s.worker("di").exit is not None
                            and s.channel("door").data.get("accept_queue") == 0, timeout=20)
        data = done.channel("door").data
        assert (data["accept_queue"], data["max_accept_queue"]) == (0, 4)
