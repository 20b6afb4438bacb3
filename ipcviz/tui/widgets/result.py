"""The lesson's result line, under the status line: the scenario's `result:` template
filled in with this frame's values (ipcviz/scenario/result_line.py), so the number a lesson is
about is said in one line instead of sitting somewhere in a panel."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ipcviz.scenario.result_line import render
from ipcviz.telemetry.result_values import snapshot_lookups
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.widgets.base import FrameStyle


class ResultLine(Widget):
    """One line, `▸ increments 4 -> counter 3: 1 updates lost`, cut with an ellipsis at
    the screen's edge; not shown at all for a scenario without `result:`."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; the line is filled in from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # before Widget's own __init__, which may already tell of a style update
        self.frame_style = FrameStyle(self)
        super().__init__(*args, **kwargs)
        self._shown = Text()
        self._strip: Strip | None = None
        self.display = False

    @property
    def plain(self) -> str:
        """The line as text (what a test reads)."""
        return self._shown.plain

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        template = snap.result if snap is not None else ""
        self.display = bool(template)
        if not template:
            return
        text = Text(" ▸ ", style="bold")
        text.append(render(template, *snapshot_lookups(snap)), style="bold")
        if text != self._shown:
            self._shown, self._strip = text, None
            self.frame_style.new_frame()
            self.refresh()

    def render(self) -> Text:
        return self._shown

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0:
            return Strip.blank(width, self.frame_style.get())
        strip = self._strip
        if strip is None or strip.cell_length != width:
            line = self._shown
            if line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            base = self.frame_style.get()
            segments = Segment.simplify(Segment.apply_style(line.render(self.app.console), base))
            strip = self._strip = Strip(segments).crop_extend(0, width, base)
        return strip

    def notify_style_update(self) -> None:
        self.frame_style.new_frame()
        self.forget_lines()
        super().notify_style_update()

    def forget_lines(self) -> None:
        """Drop the line drawn (it carries the old style)."""
        self._strip = None
