"""A panel pushed below the screen's edge skips its drawing, keeps its histories, and is
drawn from the newest Snapshot once it is in view (issue 18: at 64 workers the hidden
panels were a fifth of the UI's work each frame)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ipcviz.telemetry.snapshot import EventView
from ipcviz.tui.app import make_app
from ipcviz.tui.panels import EventLog, PipesPanel, QueuesPanel
from ipcviz.tui.widgets.base import off_screen
from ipcviz.tui.source import FixedSource, read_recording
from tests.conftest import run_cli
from tests.waiting import until

#: 12 pipes (the pipes panel at its tallest) and one queue below them
SCENARIO = "name: many pipes\nduration: 1\nchannels:\n" + "".join(
    f"  p{i}: {{kind: pipe}}\n" for i in range(12)) + (
    "  q0: {kind: mqueue, capacity: 10, message_size: 64}\nworkers:\n") + "".join(
    f"  w{i}: {{loop: true, steps: [{{write: {{to: p{i}, size: 64}}}}, {{sleep: 0.05}}]}}\n"
    f"  r{i}: {{loop: true, steps: [{{read: {{from: p{i}, bytes: 64}}}}]}}\n"
    for i in range(12)) + (
    "  s0: {loop: true, steps: [{send: {to: q0, size: 8}}, {sleep: 0.05}]}\n"
    "  c0: {loop: true, steps: [{receive: {from: q0}}]}\n")


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offscreen")
    (tmp / "s.yaml").write_text(SCENARIO)
    result = run_cli("record", str(tmp / "s.yaml"), "-o", str(tmp / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    snaps = read_recording(str(tmp / "r.jsonl"))
    assert len(snaps) >= 5
    return snaps


async def _shown(app, pilot, frame) -> None:
    """Wait until the app has applied `frame` (fixed data: every frame is applied), and
    its layout is done (a pause without a delay waits for idle, then lays out)."""
    await until(pilot, lambda: app.latest is frame, message=f"the frame at {frame.elapsed}")
    await pilot.pause()


def _text(panel) -> str:
    return "\n".join(line.plain for line in panel._text_lines)


def test_a_panel_below_the_edge_is_drawn_once_in_view(frames, nothing_left_behind) -> None:
    asyncio.run(_below_the_edge(frames))


async def _below_the_edge(frames) -> None:
    from ipcviz.tui.app import SnapshotArrived

    app = make_app(source=FixedSource(frames[:-1]))
    async with app.run_test(size=(120, 20)) as pilot:
        await _shown(app, pilot, frames[-2])
        assert app.latest is frames[-2]
        queues, pipes = app.query_one(QueuesPanel), app.query_one(PipesPanel)
        log = app.query_one(EventLog)
        assert not pipes.off_screen() and "p0 (pipe)" in _text(pipes)
        assert queues.off_screen()
        assert off_screen(log)  # the event log is below the edge too
        drawn = list(queues._text_lines)
        written = len(log.lines)
        # a frame with the panel out of view, and an event: kept, not written (a write
        # would lay the whole screen out again)
        last = dataclasses.replace(frames[-1], events=(
            EventView(frames[-1].elapsed, "w0", "a line while nobody sees the log", "io"),))
        frames[-1] = last
        app.post_message(SnapshotArrived(last))
        await _shown(app, pilot, last)
        assert queues.deferred is frames[-1]
        assert queues._text_lines == drawn  # not drawn again
        assert log._stale and len(log.lines) == written
        assert log.entries[-1].event.text == "a line while nobody sees the log"
        # its depth history still took a point from every frame
        assert len(queues._history["q0"]) == min(40, len(frames))
        await pilot.resize_terminal(120, 80)
        await until(pilot, lambda: queues.deferred is None, message="the panel drawn in view")
        assert not queues.off_screen()
        assert queues.deferred is None
        assert not off_screen(log) and not log._stale
        assert len(log.lines) == len(log.entries)  # every kept entry drawn once in view
        assert "a line while nobody sees the log" in log.lines[-1].text
        sent = frames[-1].channel("q0").data["messages_sent"]
        row = next(line.plain for line in queues._text_lines if "mqueue q0" in line.plain)
        assert f" {sent} " in row


def test_pipes_beyond_the_panels_height_are_named_not_laid_out(frames, nothing_left_behind
                                                               ) -> None:
    """12 pipes, each with a note (its last read): the panel's 12 lines cannot hold them;
    the ones it can hold are laid out, the rest named in one line (they used to be cut
    off by the panel's edge without a word, after costing as much as the shown ones)."""
    asyncio.run(_pipes_room(frames))


async def _pipes_room(frames) -> None:
    app = make_app(source=FixedSource(frames[:-1]))
    async with app.run_test(size=(120, 60)) as pilot:
        await _shown(app, pilot, frames[-2])
        pipes = app.query_one(PipesPanel)
        room = pipes.room()
        assert room == 12 - 1 - 1  # the CSS max-height, less the border and the header
        lines = [line.plain for line in pipes._text_lines]
        assert len(lines) <= room + 1
        shown = [f"p{i}" for i in range(12) if any(f" p{i} (pipe)" in ln for ln in lines)]
        assert shown and len(shown) < 12
        assert lines[-1].rstrip() == " … " + f"{12 - len(shown)} more: " + ", ".join(
            f"p{i}" for i in range(len(shown), 12))


def test_lines_under_the_footer_are_not_repainted(frames, nothing_left_behind, monkeypatch
                                                  ) -> None:
    """Textual repaints the box around every changed line, each widget inside it: a
    changed line nobody could see (the pipes panel's rows under the footer) made every
    frame repaint the whole screen. Those lines are no longer refreshed, the pipes panel
    lays out only the rows the screen has room for, and an unchanged status line is not
    drawn again."""
    from textual._compositor import Compositor

    dirty: list[list] = []
    partial = Compositor.render_partial_update

    def record(self):  # type: ignore[no-untyped-def]
        dirty.append(list(self._dirty_regions))
        return partial(self)

    monkeypatch.setattr(Compositor, "render_partial_update", record)
    asyncio.run(_under_the_footer(frames, dirty))


async def _under_the_footer(frames, dirty) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from ipcviz.tui.app import SnapshotArrived
    from ipcviz.tui.widgets.base import shown_lines
    from ipcviz.tui.widgets.status import StatusBar

    app = make_app(source=FixedSource(frames[:-2]))
    async with app.run_test(size=(120, 20)) as pilot:
        await _shown(app, pilot, frames[-3])
        keys = app.query_one(Footer).query(FooterKey)
        await until(pilot, lambda: keys.results() and all(k.size.width for k in keys),
                    message="the footer's keys laid out")  # composed after the first frame
        await pilot.pause()  # and painted
        pipes = app.query_one(PipesPanel)
        footer = app.screen.find_widget(app.query_one(Footer)).region
        visible = shown_lines(pipes, clip=False)
        assert 0 < visible < 10  # partly on screen
        # laid out: the rows the screen has room for (its last line under the footer
        # names the rest: the panel's minimum is a pipe and that line)
        assert len(pipes._text_lines) <= max(visible, 3)
        dirty.clear()
        for frame in frames[-2:]:
            app.post_message(SnapshotArrived(frame))
            await _shown(app, pilot, frame)  # (and painted)
        assert dirty, "no repaint at all"
        assert not [r for regions in dirty for r in regions if r.overlaps(footer)]
        # the same status line again: nothing to repaint on it
        status = app.query_one(StatusBar)
        calls: list = []
        status.refresh = lambda *a, **k: calls.append(a)  # type: ignore[method-assign]
        status.watch_snapshot(frames[-1])
        assert calls == []


def test_a_panel_refreshes_only_the_lines_on_screen(nothing_left_behind) -> None:
    asyncio.run(_panel_lines())


async def _panel_lines() -> None:
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Footer

    from ipcviz.tui.widgets.base import Panel

    class Tall(App):
        CSS = "Panel { height: auto; }"

        def compose(self):  # type: ignore[no-untyped-def]
            yield Panel()
            yield Footer()

    app = Tall()
    async with app.run_test(size=(40, 10)) as pilot:
        panel = app.query_one(Panel)
        panel.show([Text(f"line {i}") for i in range(30)])
        await pilot.pause()  # painted
        refreshed: list = []
        real = panel.refresh

        def spy(*regions, **kw):  # type: ignore[no-untyped-def]
            refreshed.extend(regions)
            return real(*regions, **kw)

        panel.refresh = spy  # type: ignore[method-assign]
        panel.show([Text(f"line {i} changed") for i in range(30)])
        # the 9 lines above the footer (this panel has no border)
        assert sorted(r.y for r in refreshed) == list(range(9))
        assert all(line.plain.endswith("changed") for line in panel._text_lines)
        await pilot.resize_terminal(40, 40)  # a taller screen paints the kept lines
        await pilot.pause()
        assert panel.render_line(20).text.startswith("line 20 changed")


def _recording(name: str, at: float):
    from ipcviz.tui.source import snapshots_until
    from tests.test_snapshots import RECORDINGS

    return snapshots_until(read_recording(str(RECORDINGS / f"{name}.jsonl")), at)


def test_a_panel_whose_title_alone_shows_is_drawn(nothing_left_behind) -> None:
    """A new run in the same app (picker, `q`, another lesson) starts clean: its first
    frame is drawn by every panel (drawing is what hides a panel the run has nothing for;
    deferred below the edge, the last run's pipes panel stayed on screen), and the
    workers table and the panels' histories forget the last run. Before, the event log
    was pushed off the screen by both."""
    asyncio.run(_title_alone())


async def _title_alone() -> None:
    first, second = _recording("speed_race", 2.5), _recording("signals_coalescing", 2.0)
    app = make_app(source=FixedSource(first))
    async with app.run_test(size=(120, 24)) as pilot:
        await _shown(app, pilot, first[-1])
        app.start_source(FixedSource(second))  # no pipes in it
        await _shown(app, pilot, second[-1])
        assert not app.query_one(PipesPanel).display
        # the table shows this run's workers only (the last run's rows stayed above them)
        from ipcviz.tui.panels import WorkersTable

        assert app.query_one(WorkersTable)._names == ["standard", "realtime", "blocker"]
        log = app.screen.find_widget(app.query_one(EventLog)).region
        assert log.y < 23, log  # on the screen, above the footer


def test_a_taller_screen_gives_the_pipes_their_room_without_a_new_frame(
        nothing_left_behind) -> None:
    """The pipes panel lays out the rows the screen has room for; a taller terminal must
    lay them out again even when no frame comes (a paused replay, an ended recording)."""
    asyncio.run(_taller())


async def _taller() -> None:
    frames = _recording("speed_race", 2.5)
    app = make_app(source=FixedSource(frames))
    async with app.run_test(size=(120, 20)) as pilot:
        await _shown(app, pilot, frames[-1])
        pipes = app.query_one(PipesPanel)
        assert "more:" in pipes._text_lines[-1].plain  # the rest named on a short screen
        await pilot.resize_terminal(120, 50)
        await until(pilot, lambda: not any("more:" in line.plain for line in pipes._text_lines),
                    message="every pipe laid out on the taller screen")
        assert sum(" (socket)" in line.plain for line in pipes._text_lines) == 2
