"""A partial repaint renders only the widgets visible beside the lines that changed
(tui/band_compositor.py), and writes the same to the terminal as Textual's own."""

from __future__ import annotations

import asyncio
import collections

from textual._compositor import Compositor
from textual.geometry import Region
from textual.widget import Widget

from ipcviz.tui.band_compositor import BandCompositor, bands
from ipcviz.tui.widgets.signals import SignalsPanel
from ipcviz.tui.widgets.status import StatusBar

from .test_snapshots import recorded_app, settle


def test_bands_join_regions_that_share_or_touch_lines() -> None:
    regions = [Region(0, 10, 5, 2), Region(0, 0, 120, 1), Region(3, 1, 4, 1),
               Region(50, 11, 10, 3), Region(0, 20, 120, 1)]
    assert bands(regions) == [Region(0, 0, 120, 2), Region(0, 10, 60, 4),
                              Region(0, 20, 120, 1)]
    assert bands([]) == []


def test_a_status_line_change_renders_the_status_line_only(monkeypatch) -> None:
    """The status line at the top and the last screen line change: the panels between
    them (the workers table, the signals panel) are not rendered, and what goes to the
    terminal is what Textual's own compositor writes for the same changes."""
    rendered: collections.Counter[str] = collections.Counter()
    render_lines = Widget.render_lines

    def counted(widget: Widget, crop: Region):
        rendered[type(widget).__name__] += 1
        return render_lines(widget, crop)

    async def run() -> None:
        app = recorded_app("signals_coalescing", 2.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            compositor = app.screen._compositor
            assert isinstance(compositor, BandCompositor)
            signals = app.query_one(SignalsPanel).region
            assert 1 < signals.y < signals.bottom < 39  # between the two lines
            monkeypatch.setattr(Widget, "render_lines", counted)
            app.query_one(StatusBar).refresh()
            await pilot.pause()
            assert rendered["StatusBar"] == 1
            assert rendered["SignalsPanel"] == rendered["WorkersTable"] == 0
            changed = {Region(0, 0, 120, 1), Region(0, 39, 120, 1),
                       Region(4, signals.y + 1, 30, 2)}
            compositor._dirty_regions |= changed
            ours = compositor.render_partial_update()
            compositor._dirty_regions |= changed
            textual = Compositor.render_partial_update(compositor)
            assert ours is not None and textual is not None
            assert ours.render_segments(app.console) == textual.render_segments(app.console)
            # the signals panel changed: rendered by each; the workers table did not,
            # and only Textual's compositor rendered it
            assert (rendered["SignalsPanel"], rendered["WorkersTable"]) == (2, 1)

    asyncio.run(run())
