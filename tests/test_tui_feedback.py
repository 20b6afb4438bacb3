"""What the app says after a key is true (real processes, Pilot): nothing is claimed sent
to a worker that has exited, `l` on a worker without a lock says so, one toast at a
time, `q` from a scenario picked in the picker returns to the picker."""

from __future__ import annotations

import asyncio

from ipcviz.tui.app import make_app
from ipcviz.tui.screens import PickerScreen
from ipcviz.tui.source import LiveSource
from tests.test_tui_live import frames_later, wait_started
from tests.waiting import until

SCENARIO = """
duration: 30
workers:
  quick:
    steps:
      - exit: 0
  stays:
    handlers: {SIGUSR1: count}
    steps:
      - repeat: {times: 1000, steps: [{sleep: 0.05}]}
"""


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def test_keys_on_an_exited_worker_or_without_a_lock_say_what_happened(
        scenario_file, nothing_left_behind) -> None:
    source = LiveSource(str(scenario_file(SCENARIO)))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None and
                           app.latest.worker("quick").state == "exited")
            sent_before = dict(app.latest.worker("quick").signals_sent_to)
            await pilot.press("k")  # `quick` is selected: first row
            await until(pilot, lambda: toasts(app) == [
                "quick has exited (exited 0): nothing sent"], message=lambda: toasts(app))
            await frames_later(pilot, app)
            assert app.latest.worker("quick").signals_sent_to == sent_before
            await pilot.press("down")
            await pilot.press("l")
            await until(pilot, lambda: toasts(app) == ["stays takes no lock: nothing to switch"],
                        message=lambda: toasts(app))
            for _ in range(10):  # many presses: one toast, the last
                await pilot.press("u")
            await until(pilot, lambda: toasts(app) == ["SIGUSR1 → stays"],
                        message=lambda: toasts(app))
            await until(pilot, lambda: app.latest.worker("stays").signals_received.get(
                "SIGUSR1", 0) >= 1)
            await until(pilot, lambda: app.latest.worker("stays").step_text
                           == "repeat: sleep")
            await pilot.press("q")

    asyncio.run(scenario())


def test_q_from_a_picked_scenario_returns_to_the_picker(nothing_left_behind) -> None:
    async def scenario() -> None:
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, PickerScreen),
                        message="the picker")
            await pilot.press("enter")  # the first: signals_handlers
            await wait_started(pilot, app)
            first = app.source
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, PickerScreen))
            assert first.proc is None and first.leaks["processes"] == 0
            assert app.is_running
            await pilot.press("q")  # in the picker: quits
            await until(pilot, lambda: not app.is_running, message="the app to end")
        assert not app.is_running

    asyncio.run(scenario())


def test_why_lines_belong_to_the_current_process_life(scenario_file,
                                                      nothing_left_behind) -> None:
    """k, then R, then u: the new life was sent one SIGUSR1 and counted it, so nothing
    needs explaining (before, the old life's SIGKILL read as 'coalesced'); SIGSTOP gets
    its own words."""
    from ipcviz.tui.widgets.signals import signals_in_play, worker_reason

    source = LiveSource(str(scenario_file("""
duration: 30
workers:
  w:
    handlers: {SIGUSR1: count}
    steps: [{sleep: 30}]
""")))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            first = app.latest.worker("w").pid
            await pilot.press("k")
            await until(pilot, lambda: app.latest.worker("w").state == "exited")
            await pilot.press("R")
            await until(pilot, lambda: app.latest.worker("w").pid not in (None, first)
                           and app.latest.worker("w").state != "exited")
            await pilot.press("u")
            await until(pilot, lambda: app.latest.worker("w").signals_received.get(
                "SIGUSR1") == 1)
            w = app.latest.worker("w")
            assert w.signals_sent_to == {"SIGUSR1": 1, "SIGKILL": 1}  # the whole run
            assert worker_reason(w, signals_in_play(app.latest)) == ""
            await pilot.press("s")
            await until(pilot, lambda: app.latest.worker("w").state == "stopped")
            assert worker_reason(app.latest.worker("w"), signals_in_play(app.latest)) == (
                "SIGSTOP: stops the process (it cannot be caught, so nothing counts it)")
            await pilot.press("c")
            await pilot.press("q")

    asyncio.run(scenario())


def test_what_an_earlier_life_received_is_not_this_lifes(scenario_file,
                                                         nothing_left_behind) -> None:
    """u, u, k, R: the first life counted two SIGUSR1; the new life was sent none and
    received none, yet the why line said 'SIGUSR1: also sent by other processes or the
    kernel' (received counted over the whole run, sent over this life)."""
    from ipcviz.tui.widgets.signals import signals_in_play, worker_reason

    source = LiveSource(str(scenario_file("""
duration: 30
workers:
  w:
    handlers: {SIGUSR1: count}
    steps: [{sleep: 30}]
""")))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            first = app.latest.worker("w").pid
            await pilot.press("u")
            await until(pilot, lambda: app.latest.worker("w").signals_received.get(
                "SIGUSR1") == 1)
            await pilot.press("u")
            await until(pilot, lambda: app.latest.worker("w").signals_received.get(
                "SIGUSR1") == 2)
            await pilot.press("k")
            await until(pilot, lambda: app.latest.worker("w").state == "exited")
            await pilot.press("R")
            await until(pilot, lambda: app.latest.worker("w").pid not in (None, first)
                           and app.latest.worker("w").state != "exited")
            w = app.latest.worker("w")
            assert w.received_this_life == {}
            assert worker_reason(w, signals_in_play(app.latest)) == ""
            await pilot.press("q")

    asyncio.run(scenario())
