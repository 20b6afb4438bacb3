"""Shared memory and semaphores for real: races, locks, deadlock, dead holders."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.telemetry.ring_events import EventCode as EV

from .conftest import SCENARIOS, run_scenario
from .live import LiveRun
from .waiting import until

HERE = Path(__file__).parent


def test_counter_with_lock_loses_nothing(nothing_left_behind) -> None:
    """The lesson loops until stopped (playable live at any moment); headless, its run
    ends by the clock with every increment in the counter."""
    summary = run_scenario(SCENARIOS / "shm_counter_race.yaml", "--check")
    counter = summary["channels"]["counter"]
    assert counter["increments"] > 100_000
    assert counter["values"] == [counter["increments"]]
    assert counter["lost_updates"] == 0
    assert {w["state"] for w in summary["workers"].values()} != {"exited"}
    assert summary["deadlock"] is None
    assert all(r["ok"] for r in summary["expect"])


def test_counter_without_lock_loses_updates_every_time(nothing_left_behind) -> None:
    for _ in range(2):
        summary = run_scenario(HERE / "scenarios" / "race_lock_off.yaml")
        counter = summary["channels"]["counter"]
        assert counter["increments"] == 800_000
        assert counter["lost_updates"] > 0
        assert counter["values"] == [800_000 - counter["lost_updates"]]


def test_deadlock_named_fast_and_dead_holder_reported(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "deadlock.yaml", "--check")
    assert summary["deadlock"] == ["a", "lock_b", "b", "lock_a"]
    # the cycle forms at about 0.5 s (after each worker's first lock and 0.5 s sleep)
    assert 0.5 <= summary["deadlock_at"] <= 1.5
    assert summary["channels"]["lock_a"]["holder"] == "a (dead)"
    assert summary["channels"]["lock_a"]["waiters"] == ["b"]
    assert summary["workers"]["b"]["blocked_on"] == "acquire lock_a"
    assert all(r["ok"] for r in summary["expect"])


def test_shm_numpy_course_example(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "shm_numpy.yaml", "--check")
    assert summary["channels"]["shared"]["values"] == [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert summary["channels"]["shared"]["dtype"] == "int32"
    assert all(r["ok"] for r in summary["expect"])


def test_mmap_file_bytes(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "mmap_file.yaml", "--check")
    page = summary["channels"]["page"]
    assert page["bytes_written"] == 8 * len("hello from scribe! ")
    assert page["bytes_read"] == 12 * 256
    assert all(r["ok"] for r in summary["expect"])


def test_write_signal_read_in_order(nothing_left_behind) -> None:
    with LiveRun(str(SCENARIOS / "shm_signal_notify.yaml")) as run:
        run.wait_for(lambda s: s.worker("reader").exit is not None, timeout=15)
        typed = [(e.worker, e.event.code, e.event.channel, e.event.element, e.event.signal,
                  e.event.peer, e.event.value) for e in run.events if e.event]
    usr1 = signal.SIGUSR1
    order = [typed.index(("writer", EV.SET, "board", None, None, None, None)),
             typed.index(("writer", EV.SET, "board", (2, 5), None, None, None)),
             typed.index(("writer", EV.SENT, None, None, usr1, "reader", None)),
             typed.index(("reader", EV.WAITED, None, None, usr1, None, None)),
             typed.index(("reader", EV.READ_ARRAY, "board", None, None, None, 259))]
    assert order == sorted(order)


def test_race_switch_from_the_keyboard(nothing_left_behind) -> None:
    source = LiveSource(str(SCENARIOS / "shm_counter_race.yaml"))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            def counter():
                return app.latest.channel("counter").data

            await until(pilot, lambda: app.latest is not None and
                        counter()["increments"] > 20_000)
            assert counter()["lost_updates"] == 0
            await pilot.press("l")  # adder.0 is selected: its lock goes off
            await until(pilot, lambda: app.latest.worker("adder.0").lock_off)
            await until(pilot, lambda: (counter()["lost_updates"] or 0) > 0)
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_restarted_worker_does_not_hold_what_its_dead_life_took(scenario_file,
                                                                   nothing_left_behind) -> None:
    """deadlock, then R on the killed worker: the screen said "a waiting for lock_a (held
    by a)" and "(now broken)". The semaphore stays taken by the life that died; the new
    life waits for it like b does, and nothing alive can release it."""
    path = scenario_file("""
duration: 3
channels:
  lock_a: {kind: semaphore}
  lock_b: {kind: semaphore}
workers:
  a:
    steps: [{acquire: lock_a}, {sleep: 0.3}, {acquire: lock_b}]
  b:
    steps: [{acquire: lock_b}, {sleep: 0.3}, {acquire: lock_a}]
timeline:
  - {at: 1.0, kill: a}
  - {at: 1.5, restart: a}
""")
    summary = run_scenario(path)
    lock_a = summary["channels"]["lock_a"]
    assert lock_a["value"] == 0
    assert lock_a["holders"] == ["a (before its restart) (dead)"]
    assert sorted(lock_a["waiters"]) == ["a", "b"]
    assert summary["channels"]["lock_b"]["holders"] == ["b"]
    assert summary["workers"]["a"]["restarts"] == 1
    assert summary["workers"]["a"]["blocked_on"] == "acquire lock_a"
    assert summary["deadlock"] == ["a", "lock_b", "b", "lock_a"]  # the one seen at 0.3 s
