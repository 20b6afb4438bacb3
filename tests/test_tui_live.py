"""The live app with real processes, driven by Pilot."""

from __future__ import annotations

import asyncio

import psutil

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.workers import WorkersTable
from tests.waiting import until

SCENARIO = """
duration: 60
channels:
  p: {kind: pipe}
workers:
  alpha:
    handlers: {SIGTERM: log, SIGINT: log}
    loop: true
    steps:
      - write: {to: p, data: "hello"}
      - sleep: 0.05
  beta:
    loop: true
    steps:
      - read: {from: p, bytes: 5}
triggers:
  - {key: x, label: "USR1 to beta", signal: {to: beta, sig: SIGUSR1}}
"""


#: the name Pilot tests of other files import; it is the one helper, tests.waiting.until
wait_for = until


async def frames_later(pilot, app, count: int = 2) -> None:
    """Until `count` frames newer than the current one: the runtime reads a command as it
    comes, between frames, so what a key sent before has changed them by then; and a run
    held still has gone on that many cycles without moving."""
    seq = app.latest.seq
    await until(pilot, lambda: app.latest.seq >= seq + count, message=f"{count} more frames")


async def wait_started(pilot, app) -> None:
    """Until every worker has a pid and has passed the start gate."""
    await until(pilot, lambda: app.latest is not None and all(
        w.pid and w.state != "starting" for w in app.latest.workers),
        message="every worker started")


def test_select_worker_and_kill_it(scenario_file, nothing_left_behind) -> None:
    path = scenario_file(SCENARIO)
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            beta_pid = app.latest.worker("beta").pid
            assert psutil.pid_exists(beta_pid)
            await pilot.press("down")  # select beta (second row)
            assert app.query_one(WorkersTable).selected_worker == "beta"
            await pilot.press("k")
            await until(pilot, lambda: app.latest.worker("beta").exit is not None)
            beta = app.latest.worker("beta")
            assert beta.exit == "SIGKILL"
            assert beta.exit_text == "killed by SIGKILL"
            assert beta.signals_sent_to == {"SIGKILL": 1}
            # alpha writes into a pipe nobody reads any more: SIGPIPE ends it, for real
            await until(pilot, lambda: app.latest.worker("alpha").exit is not None)
            assert app.latest.worker("alpha").exit == "SIGPIPE"
            await pilot.press("q")
        assert source.proc is None
        assert source.leaks is not None
        assert source.leaks["processes"] == 0 and source.leaks["ipc_objects"] == 0

    asyncio.run(scenario())


def test_trigger_key_and_pause(scenario_file, nothing_left_behind) -> None:
    path = scenario_file(SCENARIO.replace("    loop: true\n    steps:\n      - read",
                                          "    handlers: {SIGUSR1: count}\n    loop: true\n"
                                          "    steps:\n      - read"))
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("x")
            await until(pilot, lambda: app.latest.worker("beta").signals_received.get(
                "SIGUSR1") == 1)
            await pilot.press("p")  # pause alpha's steps (alpha is selected)
            await until(pilot, lambda: app.latest.worker("alpha").paused)
            await until(pilot, lambda: app.latest.worker("beta").state == "blocked")
            assert app.latest.worker("beta").blocked_on == "read p"
            await pilot.press("q")

    asyncio.run(scenario())


def test_signal_picker_sends_sigusr2(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 60
workers:
  target:
    handlers: {SIGUSR2: count}
""")
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None and
                           app.latest.worker("target").state == "sleeping")
            assert app.latest.worker("target").signals_received == {}
            await pilot.press("S")
            await pilot.press(*["down"] * 11)  # 1 SIGHUP ... 12 SIGUSR2
            await pilot.press("enter")
            await until(pilot, lambda: app.latest.worker("target").signals_received.get(
                "SIGUSR2") == 1)
            assert app.latest.worker("target").signals_sent_to == {"SIGUSR2": 1}
            await pilot.press("q")

    asyncio.run(scenario())


def test_128_workers_in_the_app_the_last_one_selected_and_signalled(scenario_file,
                                                                    nothing_left_behind) -> None:
    """A big run in the app: every worker has its row, End scrolls to the last one, and a
    key signals exactly that process (the table draws only the rows on screen)."""
    path = scenario_file("""
duration: 60
workers:
  w: {count: 128, handlers: {SIGUSR1: count}, loop: true, steps: [{sleep: 0.05}]}
""")
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            table = app.query_one(WorkersTable)
            assert table.row_count == 128
            await pilot.press("end")
            assert table.selected_worker == "w.127"
            # scrolled to show it (Textual applies a scroll after the next refresh: under
            # load that refresh can come after the key's own processing)
            await until(pilot, lambda: table.scroll_offset.y > 0, timeout=5)
            await pilot.press("u")  # SIGUSR1 to the selected worker
            await until(pilot, lambda: app.latest.worker("w.127").signals_received.get(
                "SIGUSR1") == 1)
            assert sum(w.signals_received.get("SIGUSR1", 0) for w in app.latest.workers) == 1
            await pilot.press("home")
            assert table.selected_worker == "w.0"
            await until(pilot, lambda: table.scroll_offset.y == 0, timeout=5)
            await pilot.press("q")
        assert source.leaks is not None and source.leaks["processes"] == 0

    asyncio.run(scenario())
