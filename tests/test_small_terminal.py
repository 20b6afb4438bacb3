"""80x24 is a first-class size: worker names cut in the middle stay different, an event
line cut at the edge ends in "…", the help overlay scrolls with the lesson's own keys
first, and every panel can be reached (tab to it, z maximizes it)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from ipcviz.telemetry.snapshot import EventView
from ipcviz.tui.app import make_app
from ipcviz.tui.screens import HelpScreen
from ipcviz.tui.source import FixedSource, LiveSource, read_recording
from ipcviz.tui.widgets.events import EventLog
from ipcviz.tui.widgets.shm import SharedMemoryPanel
from ipcviz.tui.widgets.workers import WorkersTable, middle_cut

from .conftest import SCENARIOS
from .waiting import until

RECORDINGS = Path(__file__).parent / "recordings"


def test_a_name_cut_in_the_middle_keeps_what_tells_it_apart() -> None:
    assert middle_cut("handler#0", 8) == "hand…r#0"
    assert middle_cut("handler#1", 8) == "hand…r#1"
    assert middle_cut("pipe_writer", 8) == "pipe…ter"
    assert middle_cut("pipe_reader", 8) == "pipe…der"
    assert middle_cut("short", 8) == "short"
    assert middle_cut("abcdef", 2) == "a…"


def rows(app) -> list[str]:
    table = app.query_one(WorkersTable)
    return [table.render_line(y).text for y in range(1, len(table._names) + 1)]


def test_at_80x24_two_handlers_differ_and_the_archive_can_be_reached(
        nothing_left_behind) -> None:
    """echo_store_server at 80x24: both handlers were `handler…`, and the mapped file
    `archive` was below the screen's edge with no way to it."""
    async def scenario() -> None:
        app = make_app(source=LiveSource(str(SCENARIOS / "echo_store_server.yaml")))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.latest is not None and sum(
                w.name.startswith("handler#") for w in app.latest.workers) == 2, timeout=15)

            def both_cut() -> bool:
                names = [row.split()[0] for row in rows(app) if row.split()]
                assert {"hand…r#0", "hand…r#1"} <= set(names), names
                return True

            await until(pilot, both_cut, message="both handlers' rows")
            panel = app.query_one(SharedMemoryPanel)
            assert panel.region.bottom > app.size.height - 1  # below the edge, as before
            for _ in range(8):
                if app.focused is panel:
                    break
                await pilot.press("tab")
            assert app.focused is panel
            await pilot.press("z")

            def maximized() -> bool:
                assert app.screen.maximized is panel
                assert panel.region.bottom <= app.size.height
                assert any(line.plain.startswith("archive") for line in panel._text_lines)
                return True

            await until(pilot, maximized, message="the panel maximized, the archive on it")
            await pilot.press("q")

    asyncio.run(scenario())


def test_an_event_line_cut_at_the_edge_ends_in_an_ellipsis() -> None:
    """A real run's frames, the last one with a runtime line longer than 80 columns (a
    schedule's error says which entry and why): the log cuts it with "…"."""
    frames = read_recording(str(RECORDINGS / "pipe_backpressure.jsonl"))
    long = ("schedule[4]: worker 'stubborn' cannot move: it is blocked (write q), and "
            "the rest of this line is past the edge")
    frames[-1] = replace(frames[-1], events=frames[-1].events + (
        EventView(frames[-1].elapsed, "runtime", long, "runtime"),))

    async def scenario() -> None:
        app = make_app(source=FixedSource(frames))
        async with app.run_test(size=(80, 40)) as pilot:
            await until(pilot, lambda: app.latest is frames[-1], timeout=15)
            log = app.query_one(EventLog)

            def cut_once() -> bool:
                shown = [strip.text.rstrip() for strip in log.lines]
                cut = [line for line in shown if "schedule[4]" in line]
                assert len(cut) == 1 and cut[0].endswith("…"), cut
                assert len(cut[0]) == log.scrollable_content_region.width
                assert not any(line.endswith("…") for line in shown if line not in cut)
                return True

            await until(pilot, cut_once, message="the long line cut in the log")
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_help_scrolls_at_80x24_with_the_lessons_keys_first() -> None:
    frames = read_recording(str(RECORDINGS / "signals_handlers.jsonl"))

    async def scenario() -> None:
        app = make_app(source=FixedSource(frames))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.latest is frames[-1], message="the last frame")
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), message="the help")
            box = app.screen.query_one("#help")
            static = box.query_one("Static")

            def laid_out() -> bool:
                lines = [static.render_line(y).text.split() for y in range(static.size.height)]
                lines = [line for line in lines if line]
                assert lines[:4] == [["ipcviz", "keys"], ["this", "lesson"],
                                     ["x", "SIGUSR1", "×5", "to", "counter"],
                                     ["↑", "↓", "/", "mouse", "select", "a", "worker"]]
                assert box.max_scroll_y > 0  # it does not fit: it scrolls
                return True

            await until(pilot, laid_out, message="the help's lines")
            await pilot.press("end")
            await until(pilot, lambda: box.scroll_y == box.max_scroll_y,
                        message=lambda: f"the end ({box.scroll_y} of {box.max_scroll_y})")
            await pilot.press("escape")
            await pilot.press("q")

    asyncio.run(scenario())
