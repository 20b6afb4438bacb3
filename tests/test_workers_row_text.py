"""The workers table's rows are put together from the cells' plain text and spans (a
Text per cell, copied, cut and appended, was most of a repaint when every row changes);
they must draw exactly what the Text-per-cell way drew."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ipcviz.tui.widgets.workers import row_text


def _by_cells(cells, widths) -> Text:
    """The way rows were drawn before: a Text per cell, cut or padded, appended."""
    line = Text(no_wrap=True, overflow="ellipsis")
    for cell, width in zip(cells, widths):
        text = Text(cell) if isinstance(cell, str) else cell.copy()
        text.truncate(width, overflow="ellipsis", pad=True)
        line.append(" ")
        line.append_text(text)
        line.append(" ")
    return line


def _segments(text: Text) -> list:
    console = Console(width=200, color_system="truecolor")
    return [(s.text, s.style) for s in text.render(console)]


def test_rows_draw_as_the_cell_by_cell_way_did() -> None:
    name = Text("handler#12 ", style="bold")
    name.append("← server", style="dim")
    state = Text("3 zombies · blocked on read requests", style="bold yellow")
    cases = [
        (("w0", "1234", Text("running", style="green"), "  0.0", "0", "sleep", "-"),
         (8, 7, 20, 5, 8, 9, 10)),
        ((name, "99", state, "", "2", "repeat: write", "SIGCHLD 2"),
         (8, 7, 14, 5, 8, 9, 10)),  # cut: the name, the state, the step
        (("日本語ワーカー", "1", Text(""), "12.5", "0", "", "USR1 ×3"),
         (6, 7, 14, 5, 8, 9, 4)),  # wide characters, an empty styled cell
    ]
    for cells, widths in cases:
        assert row_text(cells, widths).plain == _by_cells(cells, widths).plain
        assert _segments(row_text(cells, widths)) == _segments(_by_cells(cells, widths))


def test_a_theme_change_redraws_rows_in_the_new_colours(nothing_left_behind) -> None:
    """The table and the panels work out their style once per frame and keep drawn lines:
    a new theme must not leave rows in the old colours."""
    import asyncio

    from ipcviz.tui.app import make_app
    from ipcviz.tui.panels import SignalsPanel, WorkersTable
    from ipcviz.tui.source import FixedSource, read_recording, snapshots_until
    from tests.test_snapshots import RECORDINGS
    from tests.waiting import until

    snaps = snapshots_until(read_recording(str(RECORDINGS / "signals_coalescing.jsonl")), 2.0)

    def background(strip) -> object:
        return next(s.style.bgcolor for s in strip if s.style and s.style.bgcolor)

    async def run() -> None:
        app = make_app(source=FixedSource(snaps))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is snaps[-1], message="the last frame")
            await pilot.pause()  # and painted
            table, panel = app.query_one(WorkersTable), app.query_one(SignalsPanel)
            before = background(table.render_line(3)), background(panel.render_line(1))
            app.theme = "textual-light" if app.current_theme.dark else "textual-dark"

            def restyled() -> bool:
                after = background(table.render_line(3)), background(panel.render_line(1))
                assert after[0] != before[0] and after[1] != before[1]
                assert after[0] == table.rich_style.bgcolor  # the new style, not a kept one
                assert after[1] == panel.rich_style.bgcolor
                return True

            await until(pilot, restyled, message="the rows in the new theme's colours")

    asyncio.run(run())
