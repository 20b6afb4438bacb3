"""The channel panels show each lesson's number (issue 15): real processes, exact counts,
and the words on screen read from the live app (Pilot) or the headless summary."""

from __future__ import annotations

import asyncio


from ipcviz.format import format_bytes
from ipcviz.telemetry.snapshot import End
from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.locks import LocksPanel
from ipcviz.tui.widgets.pipes import PipesPanel
from ipcviz.tui.widgets.queues import QueuesPanel
from ipcviz.tui.widgets.shm import SharedMemoryPanel
from ipcviz.telemetry.ring_events import EventCode as EV

from .conftest import SCENARIOS, run_scenario
from .live import LiveRun
from .test_tui_live import wait_started
from .waiting import until


def panel_text(app, panel_class) -> str:
    """What a panel shows now, its lines joined by a space (a line wrapped at a space
    reads whole again)."""
    return " ".join(line.plain for line in app.query_one(panel_class)._text_lines)


def run_app(path: str, check, size: tuple[int, int] = (120, 40)) -> None:
    """Run the live app on `path` and call `check(pilot, app)` once workers started."""
    async def scenario() -> None:
        app = make_app(source=LiveSource(path))
        async with app.run_test(size=size) as pilot:
            await wait_started(pilot, app)
            await check(pilot, app)
            await pilot.press("q")

    asyncio.run(scenario())


BLOCKED_BELOW_CAPACITY = """
duration: 60
channels:
  p: {kind: pipe, capacity: 16384}
workers:
  w:
    loop: true
    steps: [{write: {to: p, size: 4096}}]
  r:
    steps:
      - sleep: 0.3
      - read: {from: p, bytes: 2048}
      - sleep: 60
"""


def test_writer_blocked_below_capacity_is_explained(scenario_file, nothing_left_behind) -> None:
    """4 pages of 4 KiB full, the reader takes half of the first: 14 KiB buffered, yet
    the writer is blocked, and the panel says why (space is counted in pages)."""
    path = scenario_file(BLOCKED_BELOW_CAPACITY)

    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("r").state == "sleeping"
                       and app.latest.channel("p").data.get("bytes_read") == 2048
                       and app.latest.worker("w").state == "blocked")
        await until(pilot, lambda: "blocked at 14.0 KiB / 16.0 KiB" in panel_text(
            app, PipesPanel))
        text = panel_text(app, PipesPanel)
        assert ("blocked at 14.0 KiB / 16.0 KiB: space is counted in 4.0 KiB pages and "
                "all 4 are in use (partly filled)") in text
        assert app.latest.channel("p").data["buffered"] == 14336
        assert "14.0 KiB / 16.0 KiB  16.0 KiB" in text  # max seen: full before the read
        assert "blocked" in text.split("p (pipe)")[1]

    run_app(str(path), check)


GONE = """
duration: 2
channels:
  p: {kind: pipe}
workers:
  w:
    steps: [{write: {to: p, size: 100}}]
  r:
    steps: [{sleep: 60}, {read: {from: p, bytes: 1}}]
timeline:
  - {at: 0.5, kill: r}
"""


def test_pipe_with_every_end_closed_is_gone_with_its_bytes(scenario_file,
                                                           nothing_left_behind) -> None:
    summary = run_scenario(scenario_file(GONE))
    p = summary["channels"]["p"]
    assert p["closed"] is True
    assert p["unread_at_close"] == 100
    assert p["bytes_written"] == 100 and p["bytes_read"] == 0

    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("r").exit is not None)
        await until(pilot, lambda: "pipe gone" in panel_text(app, PipesPanel))
        text = panel_text(app, PipesPanel)
        assert "the 100 B never read went with it" in text
        assert "100 B / " not in text.split("pipe gone")[1]  # no bytes "in the kernel"

    run_app(str(scenario_file(GONE.replace("duration: 2", "duration: 60"))), check)


FIFO = """
duration: 60
channels:
  f: {kind: fifo}
workers:
  w:
    loop: true
    steps: [{write: {to: f, data: "hi"}}, {sleep: 0.2}]
  r:
    loop: true
    steps: [{read: {from: f, bytes: 2}}]
"""


def test_fifo_path_and_open_ends(scenario_file, nothing_left_behind) -> None:
    path = scenario_file(FIFO)

    async def check(pilot, app) -> None:
        await until(pilot, lambda: "open for write: w  open for read: r"
                       in panel_text(app, PipesPanel))
        fifo_path = app.latest.channel("f").data["path"]
        assert app.latest.channel("f").data["open_by"] == {"write": ["w"], "read": ["r"]}
        assert f"path {fifo_path}" in panel_text(app, PipesPanel)
        await pilot.press("k")  # SIGKILL to w (the first row): its end closes with it
        await until(pilot, lambda: app.latest.worker("w").exit is not None)
        await until(pilot, lambda: "open for write: nobody" in panel_text(app, PipesPanel))

    run_app(str(path), check)


def test_socket_full_path_and_bytes_per_connection(nothing_left_behind) -> None:
    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("local_client").bytes_read.get(
            "local", 0) >= 10 and app.latest.worker("client.1").bytes_read.get("tcp", 0) >= 8)

        def shown() -> bool:
            snap = app.latest
            text = panel_text(app, PipesPanel)
            address = snap.channel("local").data["address"]
            assert address.startswith("/") and f"address {address}" in text
            for name, channel in (("local_client", "local"), ("client.0", "tcp"),
                                  ("client.1", "tcp")):
                w = snap.worker(name)
                assert (f"{name} sent {format_bytes(w.bytes_written[channel])}, "
                        f"got {format_bytes(w.bytes_read[channel])}") in text, text
            return True

        await until(pilot, shown, message="each connection's bytes on the panel")

    run_app(str(SCENARIOS / "socket_echo.yaml"), check)


def test_refused_sends_counted_exactly(nothing_left_behind) -> None:
    """`dropper` tries 12 non-blocking sends into `box`: each is sent or refused."""
    summary = run_scenario(SCENARIOS / "queue_capacity.yaml")
    box = summary["channels"]["box"]
    sent = summary["workers"]["dropper"]["messages_sent"].get("box", 0)
    assert box["refused"] + sent == 12
    assert box["refused"] > 0
    assert summary["channels"]["meet"]["refused"] == 0


def test_refusals_and_duplicates_on_screen(nothing_left_behind) -> None:
    async def refusals(pilot, app) -> None:
        await until(pilot, lambda: app.latest.channel("box").data.get("refused", 0) > 0)
        await until(pilot, lambda: f"box refused {app.latest.channel('box').data['refused']} "
                    "non-blocking send(s): queue full (EAGAIN)" in panel_text(app, QueuesPanel),
                    message=lambda: f"the refusals on {panel_text(app, QueuesPanel)!r}")

    async def duplicates(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("worker").duplicates > 0)
        await until(pilot, lambda: f"worker received {app.latest.worker('worker').duplicates} "
                    "DUPLICATE(s)" in panel_text(app, QueuesPanel),
                    message=lambda: f"the duplicates on {panel_text(app, QueuesPanel)!r}")

    run_app(str(SCENARIOS / "queue_capacity.yaml"), refusals)
    run_app(str(SCENARIOS / "message_duplication.yaml"), duplicates)


def test_priority_message_taken_first_is_an_event(nothing_left_behind) -> None:
    with LiveRun(str(SCENARIOS / "mqueue_bounded.yaml")) as run:
        run.wait_for(lambda s: _priorities(run.events), timeout=15)
    # the first receive took an older job and made room; urgent's message got in and
    # the next receive took it ahead of the 4 jobs left
    assert _priorities(run.events) == [("jobs", 9, 4)]


def test_spawned_handlers_named_as_the_real_ends(nothing_left_behind) -> None:
    with LiveRun(str(SCENARIOS / "echo_store_server.yaml")) as run:
        snap = run.wait_for(lambda s: s.channel("store").data.get("bytes_read", 0) > 0)
    assert snap.channel("store").writers == (End("handler", "server"),)
    assert snap.channel("store").readers == (End("storer"),)
    assert End("handler", "server") in snap.channel("front").writers
    assert End("server") not in snap.channel("front").writers


def test_deadlock_says_the_waiter_waits_forever_on_a_dead_holder(nothing_left_behind) -> None:
    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("a").exit is not None, timeout=15)
        await until(pilot, lambda: "still waits" in panel_text(app, LocksPanel))
        text = panel_text(app, LocksPanel)
        assert "b still waits for lock_a, held by dead worker a" in text
        assert "it waits forever" in text
        assert "now broken" not in text

    run_app(str(SCENARIOS / "deadlock.yaml"), check)


def test_mmap_view_follows_the_writer(nothing_left_behind) -> None:
    """scribe writes 8 x 19 bytes: the hex view moves past the first 64 bytes with it,
    says where it writes next, and what the watcher (reading from offset 0) finds."""
    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("scribe").exit is not None, timeout=15)

        def shown() -> bool:
            text = panel_text(app, SharedMemoryPanel)
            assert "scribe writes next at offset 152 (0x98)" in text, text
            assert "watcher reads from offset 0: hello from scribe! hello from scribe!" in text
            assert "  0080  69 62 65 21" in text  # bytes 128.. ("ibe!"): the view moved on
            assert "  0000  " not in text
            return True

        await until(pilot, shown, message="the view past the first 64 bytes")
        assert app.latest.channel("page").data["write_offset"] == 152

    run_app(str(SCENARIOS / "mmap_file.yaml"), check)


def test_shared_array_shows_its_dev_shm_name(nothing_left_behind) -> None:
    async def check(pilot, app) -> None:
        await until(pilot, lambda: "/dev/shm/" in panel_text(app, SharedMemoryPanel))
        path = app.latest.channel("shared").data["shm_path"]
        assert path.startswith("/dev/shm/ipcviz.") and path.endswith(".shared")
        import os
        assert os.path.exists(path)  # the real object, by the name shown
        assert path in panel_text(app, SharedMemoryPanel)

    run_app(str(SCENARIOS / "shm_numpy.yaml"), check)


def test_what_was_read_and_self_reads_on_screen(nothing_left_behind) -> None:
    """pipe_two_way: each reader's last read is the other's message, none read back its
    own; on one pipe used both ways, the count of own messages read back shows."""
    async def two_way(pilot, app) -> None:
        await until(pilot, lambda: app.latest.channel("answer").data.get("bytes_read", 0)
                       >= 52)

        def shown() -> bool:
            text = panel_text(app, PipesPanel)
            assert 'answerer last read "Who are you?" (12 B), own message read back 0×' in text
            assert 'asker last read "Thank you for yo…" (26 B), own message read back 0×' in text
            return True

        await until(pilot, shown, message="each reader's last read")
        assert app.latest.channel("ask").data["last_read"] == {"answerer": ["Who are you?", 12]}

    async def one_pipe(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("alice").exit is not None
                       and app.latest.worker("bob").exit is not None, timeout=15)

        def shown() -> bool:
            text = panel_text(app, PipesPanel)
            for name in ("alice", "bob"):
                own = app.latest.worker(name).self_reads
                assert f", own message read back {own}×" in text.split(f"{name} last read")[1]
            return True

        await until(pilot, shown, message="the own messages read back")

    run_app(str(SCENARIOS / "pipe_two_way.yaml"), two_way)
    run_app(str(SCENARIOS / "pipe_bidirectional_race.yaml"), one_pipe)


def test_echo_store_archive_holds_what_clients_sent(nothing_left_behind) -> None:
    """The handlers store what they received (`write: {from_read: front}`) and the storer
    copies it on: the mapped file holds the clients' 10 x "hello", nothing made up."""
    with LiveRun(str(SCENARIOS / "echo_store_server.yaml")) as run:
        snap = run.wait_for(lambda s: s.channel("archive").data.get("bytes_written") == 50,
                            timeout=15)
    archive = bytes.fromhex(snap.channel("archive").data["preview"])
    assert archive[:50] == b"hello" * 10
    assert archive[50:].strip(b"\0") == b""


RELAY = """
duration: 3
channels:
  p: {kind: pipe}
  q: {kind: pipe}
workers:
  src:
    steps: [{write: {to: p, data: "abc"}}, {sleep: 0.3}, {write: {to: p, data: "defgh"}}]
  relay:
    loop: 2
    steps: [{read: {from: p, bytes: 64}}, {write: {to: q, from_read: p}}]
  sink:
    loop: 2
    steps: [{read: {from: q, bytes: 64}}]
"""


def test_write_from_read_copies_the_bytes_read(scenario_file, nothing_left_behind) -> None:
    summary = run_scenario(scenario_file(RELAY))
    assert summary["channels"]["q"]["bytes_written"] == 8
    assert summary["channels"]["q"]["last_read"] == {"sink": ["defgh", 5]}
    assert summary["channels"]["p"]["last_read"] == {"relay": ["defgh", 5]}


PRIORITY_BURST = """
duration: 5
channels:
  q: {kind: mqueue, capacity: 10, message_size: 64}
workers:
  s:
    steps:
      - send: {to: q, data: "a"}
      - send: {to: q, data: "b"}
      - send: {to: q, data: "URGENT", priority: 5}
  r:
    steps:
      - sleep: 0.5
      - repeat: {times: 3, steps: [{receive: {from: q}}]}
"""


def test_priority_event_from_a_receive_burst_too(scenario_file, nothing_left_behind) -> None:
    """A repeat of one receive runs as a burst; with priority senders it still says which
    message the kernel handed out first, and how many older ones it passed."""
    with LiveRun(str(scenario_file(PRIORITY_BURST))) as run:
        run.wait_for(lambda s: s.worker("r").exit is not None)
        run.wait_for(lambda s: s.channel("q").data.get("messages_received") == 3)
        run.wait_for(lambda s: any(e.event and e.event.code is EV.EXITING
                                   for e in run.events if e.worker == "r"))  # (held a moment)
    assert _priorities(run.events) == [("q", 5, 2)]


def _priorities(events: list) -> list[tuple[str | None, int | None, int | None]]:
    """(channel, priority, messages left) of each PRIORITY event."""
    return [(e.event.channel, e.event.number, e.event.count) for e in events
            if e.event and e.event.code is EV.PRIORITY]


def test_pipes_panel_counts_the_writes_that_failed_with_epipe(nothing_left_behind) -> None:
    """pipe_backpressure: stubborn ignores SIGPIPE, so once the reader is killed each of its
    writes fails with EPIPE; the count was only in the summary (and one event per ten
    failures). The panel says how many, beside the pipe, and why it lives on."""
    async def check(pilot, app) -> None:
        await until(pilot, lambda: app.latest.worker("stubborn").epipe_errors >= 3,
                       timeout=20)

        def shown() -> bool:
            text = panel_text(app, PipesPanel)
            count = app.latest.worker("stubborn").epipe_errors
            assert "stubborn: " in text and "write(s) failed with EPIPE" in text, text
            assert "(it ignores SIGPIPE)" in text
            shown = int(text.split(" write(s) failed with EPIPE")[0].rsplit(" ", 1)[1])
            assert count - 2 <= shown <= count  # one frame behind at most
            return True

        await until(pilot, shown, message="the EPIPE count on the panel")

    run_app(str(SCENARIOS / "pipe_backpressure.yaml"), check)


def test_file_panel_keeps_the_torn_count_and_the_lock_in_view(nothing_left_behind) -> None:
    """file_handoff at 120x40: the cell "records 12 in, 9 out, 3 torn, no lock" was cut
    to "3 tor…" and the lock word lost. The count and the lock stay in the cell, the
    records and what the lock means go on a line of their own."""
    async def check(pilot, app) -> None:
        await until(pilot, lambda: (app.latest.channel("plain").data.get("torn_reads")
                                       or 0) >= 1, timeout=20)

        def shown() -> bool:
            text = panel_text(app, PipesPanel)
            assert "TORN · no lock" in text, text
            assert "0 torn · flock" in text, text
            assert "no lock: a reader can find a record half written" in text
            assert "flock around each write and read: a reader waits, never tears" in text
            return True

        await until(pilot, shown, message="the torn count and the lock in view")

    run_app(str(SCENARIOS / "file_handoff.yaml"), check)


def test_the_udp_drop_count_comes_first_in_its_cell(nothing_left_behind) -> None:
    """udp_vs_tcp at 80x24 cut "200 sent, 9 received, 191 …": the lesson's number was the
    part lost. It leads the cell now."""
    async def check(pilot, app) -> None:
        await until(pilot, lambda: (app.latest.channel("udp").data.get("reads") or 0)
                       > 0 and app.latest.worker("udp_reader").exit is not None,
                       timeout=20)

        def shown() -> bool:
            udp = app.latest.channel("udp").data
            text = panel_text(app, PipesPanel)
            assert udp["dropped"] > 0
            # at 80 columns the cell's end may be cut; its start, the drops, never is
            assert f"{udp['dropped']} DROPPED · {udp['reads']} of 200 rec" in text, text
            return True

        await until(pilot, shown, message="the drops leading the udp cell")

    run_app(str(SCENARIOS / "udp_vs_tcp.yaml"), check, size=(80, 24))


def test_a_parents_zombie_count_leads_its_state() -> None:
    """sigchld_zombies at 80x24 showed "sleeping · 7 zom…"."""
    from ipcviz.tui.source import read_recording
    from ipcviz.tui.widgets.workers import state_cell

    from .conftest import ROOT

    snaps = read_recording(str(ROOT / "tests" / "recordings" / "sigchld_zombies.jsonl"))
    snap = next(s for s in snaps if s.elapsed >= 3.0)
    lazy, careful = snap.worker("lazy"), snap.worker("careful")
    assert lazy.zombies > 0
    assert state_cell(lazy, snap).plain.startswith(f"{lazy.zombies} zombies · ")
    assert state_cell(careful, snap).plain.startswith("0 zombies · ")
