"""The event log and the layout keys, on fixed data (a real run's recording): repeats
grouped as ×N, focus by tab, filters by worker (`f`) and kind (`F`), `z` maximizes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, read_recording
from ipcviz.tui.widgets.events import EventLog
from ipcviz.tui.widgets.signals import SignalsPanel
from ipcviz.tui.widgets.workers import WorkersTable
from tests.waiting import until

RECORDING = Path(__file__).parent / "recordings" / "signals_handlers.jsonl"


def lines(log: EventLog) -> list[str]:
    return [strip.text.rstrip() for strip in log.lines]


def test_event_log_groups_repeats_focuses_and_filters() -> None:
    frames = read_recording(str(RECORDING))
    sent = sum(e.text == "timeline: SIGUSR1 sent" and e.worker == "counter"
               for f in frames for e in f.events)
    assert sent == 20  # the recording's burst, 20 ms apart: one line each before

    async def scenario() -> None:
        app = make_app(source=FixedSource(frames))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is frames[-1], message="the last frame")
            log = app.query_one(EventLog)

            def grouped() -> bool:
                burst = [ln for ln in lines(log) if "counter" in ln and "SIGUSR1 sent" in ln]
                assert len(burst) == 1 and burst[0].endswith("×20, 20 ms apart"), burst
                return True

            await until(pilot, grouped, message="the burst on one line")
            assert app.focused is app.query_one(WorkersTable)
            await pilot.press("tab")  # the signals panel: every panel can be reached
            assert app.focused is app.query_one(SignalsPanel)
            await pilot.press("z")
            assert app.screen.maximized is app.query_one(SignalsPanel)
            await pilot.press("z")
            await pilot.press("tab")
            assert app.focused is log
            await pilot.press("z")
            assert app.screen.maximized is log
            await pilot.press("z")
            assert app.screen.maximized is None
            await pilot.press("shift+tab", "shift+tab")
            assert app.focused is app.query_one(WorkersTable)
            await pilot.press("down", "down")  # counter
            await pilot.press("f")
            assert lines(log) and all(" counter " in ln for ln in lines(log))
            assert "only counter" in str(log.border_title)
            await pilot.press("f")
            await pilot.press("F")  # signals only
            kinds = {e.event.kind for e in log.entries if log.shown(e.event)}
            assert kinds == {"signal"}
            assert len(lines(log)) == sum(1 for e in log.entries if e.event.kind == "signal")

    asyncio.run(scenario())


def test_a_trigger_on_a_later_key_keeps_its_key(scenario_file, nothing_left_behind) -> None:
    """A scenario written before `z` was the app's: its trigger on `z` still fires."""
    from ipcviz.tui.source import LiveSource
    from tests.test_tui_live import wait_started

    path = scenario_file("""
duration: 20
workers:
  w:
    handlers: {SIGUSR1: count}
    steps: [{sleep: 20}]
triggers:
  - {key: z, label: "USR1 to w", signal: {to: w, sig: SIGUSR1}}
""")
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("z")
            await until(pilot, lambda: app.latest.worker("w").signals_received.get(
                "SIGUSR1") == 1)
            assert app.screen.maximized is None
            await pilot.press("q")

    asyncio.run(scenario())
