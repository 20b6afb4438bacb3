"""Message passing for real: accounting invariants, back-pressure, SIGPIPE, queues."""

from __future__ import annotations

import asyncio

import pytest

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource

from .conftest import SCENARIOS, run_scenario
from .live import LiveRun
from .waiting import until

MESSAGE_SCENARIOS = ["pipe_oneway", "pipe_two_way", "pipe_bidirectional_race",
                     "pipe_backpressure", "fifo_unrelated", "mqueue_bounded", "queue_capacity",
                     "socket_echo", "message_duplication", "echo_store_server"]


@pytest.mark.parametrize("name", MESSAGE_SCENARIOS)
def test_accounting_invariants_and_checks(name, nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / f"{name}.yaml", "--check")
    assert [r for r in summary["expect"] if not r["ok"]] == []
    for cname, ch in summary["channels"].items():
        if ch["kind"] in ("pipe", "fifo"):
            assert ch["bytes_written"] == ch["bytes_read"] + ch["buffered"], cname
            assert 0 <= ch["buffered"] <= ch["capacity"], cname
        if ch["kind"] in ("mqueue", "queue"):
            assert ch["messages_sent"] == ch["messages_received"] + ch["depth"], cname
            if ch["capacity"] != "unbounded":
                assert ch["max_depth"] <= max(1, ch["capacity"]), cname
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_self_reads_on_one_pipe_none_on_two(nothing_left_behind) -> None:
    race = run_scenario(SCENARIOS / "pipe_bidirectional_race.yaml")
    assert race["workers"]["alice"]["self_reads"] == 5
    assert race["workers"]["bob"]["self_reads"] == 5
    two = run_scenario(SCENARIOS / "pipe_two_way.yaml")
    assert all(w["self_reads"] == 0 for w in two["workers"].values())


def test_backpressure_blocks_writer_then_sigpipe(nothing_left_behind) -> None:
    with LiveRun(str(SCENARIOS / "pipe_backpressure.yaml")) as run:
        snap = run.wait_for(lambda s: s.worker("writer").state == "blocked")
        assert snap.worker("writer").blocked_on == "write p"
        assert snap.elapsed < 3.0  # before the reader is killed
        p = snap.channel("p").data
        # full: the next 1 KiB write does not fit in what is left of the 16 KiB
        assert p["capacity"] == 16384 and p["buffered"] > 16384 - 4096
        end = run.wait_for(lambda s: s.worker("writer").exit is not None)
        assert end.worker("reader").exit == "SIGKILL"
        assert end.worker("writer").exit == "SIGPIPE"
        later = run.wait_for(lambda s: s.worker("stubborn").epipe_errors >= 3)
        assert later.worker("stubborn").exit is None  # it ignores SIGPIPE and carries on


def test_mqueue_outlives_its_sender(nothing_left_behind) -> None:
    with LiveRun(str(SCENARIOS / "mqueue_bounded.yaml")) as run:
        full = run.wait_for(lambda s: s.worker("producer").state == "blocked")
        assert full.worker("producer").blocked_on == "send jobs"
        assert full.channel("jobs").data["depth"] == 5 == full.channel("jobs").data["capacity"]
        dead = run.wait_for(lambda s: s.worker("producer").exit == "SIGKILL")
        assert dead.channel("jobs").data["depth"] == 5
        before_consumer = run.wait_for(lambda s: s.elapsed >= 2.5)
        assert before_consumer.channel("jobs").data["depth"] == 5  # still there
        drained = run.wait_for(lambda s: s.worker("consumer").exit is not None, timeout=15)
        assert drained.channel("jobs").data["depth"] == 0
        assert drained.worker("consumer").messages_received == {"jobs": 6}


def test_retries_without_ack_make_duplicates(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "message_duplication.yaml")
    jobs = summary["channels"]["jobs"]
    duplicates = summary["workers"]["worker"]["duplicates"]
    # jobs 2 and 3 each wait out two timeouts while the worker sleeps: two retries each
    assert duplicates == 4
    # every extra send is a retry, and each retried job arrived one more time
    assert jobs["messages_sent"] == 3 + duplicates + jobs["depth"]
    assert jobs["messages_received"] == 3 + duplicates


def test_socket_echo_both_ways(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "socket_echo.yaml")
    for name in ("client.0", "client.1"):
        assert summary["workers"][name]["bytes_written"] == {"tcp": 40}
        assert summary["workers"][name]["bytes_read"] == {"tcp": 40}
    assert summary["workers"]["local_client"]["bytes_read"] == {"local": 50}
    assert summary["channels"]["local"]["family"] == "unix"


def test_kill_reader_from_the_keyboard(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 60
channels:
  p: {kind: pipe, capacity: 4096}
workers:
  writer:
    loop: true
    steps:
      - write: {to: p, size: 512}
  reader:
    loop: true
    steps:
      - sleep: 30
      - read: {from: p}
""")
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None and
                        app.latest.worker("writer").state == "blocked")
            await pilot.press("down", "k")  # select the reader, SIGKILL it
            await until(pilot, lambda: app.latest.worker("writer").exit is not None)
            assert app.latest.worker("reader").exit == "SIGKILL"
            assert app.latest.worker("writer").exit == "SIGPIPE"
            await pilot.press("q")

    asyncio.run(scenario())
