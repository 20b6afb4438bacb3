"""Panel: a widget that draws a list of Text lines and redraws only the lines that changed.

A Snapshot arrives ten times a second. Handing a Static a new renderable makes Textual
convert and lay out all of it again; a Panel instead compares each new line with the one
on screen, renders the changed ones straight to Strips (Textual's line API) and refreshes
just those rows. A new frame of the same height needs no layout pass of the screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.text import Text
from textual.errors import NoWidget
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

BORDER_LINES = 1  # panels have a top border with their title


class Panel(Widget):
    """Base of the panels: `show(lines)` with the panel's Text lines."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._text_lines: list[Text] = []
        self._strips: list[Strip | None] = []
        self._height = -1
        self._strip_width = -1
        #: what the panel drew last, as plain values: an equal key skips the redraw
        self._key: object = None
        self._tracked: object = None
        #: the newest Snapshot while the panel is below the screen's edge (not drawn)
        self.deferred: object = None

    def off_screen(self) -> bool:
        """Laid out and shown, but no line of it on the screen (the screen does not
        scroll: a panel pushed below its bottom edge by the ones above is cut off). Such
        a panel skips its drawing (at 64 workers the queues and the 64x64 array were a
        fifth of the UI's work each frame, for nothing to see). It keeps the newest
        Snapshot in `deferred` and is drawn from it as soon as the compositor paints a
        line of it again (`render_line`: after a resize, `z`, or a panel above shrinking)."""
        return off_screen(self)

    def track(self, snap: object) -> None:
        """Keep what must see every frame, drawn or not (a history, a rate window); once
        per Snapshot, however often it is drawn."""
        if snap is not self._tracked and snap is not None:
            self._tracked = snap
            self.record(snap)

    def record(self, snap: object) -> None:
        """A panel's own per-frame bookkeeping (see `track`); most have none."""

    @property
    def text_width(self) -> int:
        """Columns available for the panel's text (the screen's width before layout)."""
        return self.content_region.width or self.app.size.width

    def set_shown(self, shown: bool) -> None:
        """Show or hide the panel; setting `display` even to its current value costs a
        layout pass of the whole screen, so only a change is passed on."""
        if self.display != shown:
            self.display = shown

    def show(self, lines: Sequence[Text]) -> None:
        """Put these lines on screen; a line too long for the panel wraps (as in a Static)
        unless it is `no_wrap` (table rows), which is cut with an ellipsis instead."""
        width = self.text_width
        wrapped: list[Text] = []
        for line in lines:
            if line.no_wrap or line.cell_len <= width:
                wrapped.append(line)
            else:
                wrapped += line.wrap(self.app.console, width)
        lines = wrapped
        height = len(lines) + BORDER_LINES
        if height != self._height:  # a new height: lay the screen out again
            self._height = height
            self.styles.height = height
            self._text_lines, self._strips = lines, [None] * len(lines)
            self.refresh(layout=True)
            return
        width = self.size.width
        for y, line in enumerate(lines):
            if line != self._text_lines[y]:
                self._text_lines[y] = line
                self._strips[y] = None
                self.refresh(Region(0, y, width, 1))

    def render_line(self, y: int) -> Strip:
        if self.deferred is not None:  # in view again (a resize, `z`, a panel above shrank)
            snap, self.deferred = self.deferred, None
            self.call_later(setattr, self, "snapshot", snap)
        width = self.size.width
        if width != self._strip_width:
            self._strip_width = width
            self._strips = [None] * len(self._text_lines)
        if y >= len(self._text_lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips[y]
        if strip is None:
            line = self._text_lines[y]
            if line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            base = self.rich_style
            segments = Segment.apply_style(line.render(self.app.console), base)
            strip = self._strips[y] = Strip(segments).crop_extend(0, width, base)
        return strip

    def on_resize(self) -> None:
        self._strip_width = -1
        self.refresh()


def off_screen(widget: Widget) -> bool:
    """The widget is shown and laid out, but not one cell of it is on the screen."""
    if not widget.display:
        return False
    try:
        geometry = widget.screen.find_widget(widget)
    except (NoWidget, LookupError, AttributeError):  # not laid out yet
        return False
    region = geometry.region
    return not (region.overlaps(geometry.clip) and region.overlaps(widget.screen.region))


def ends_text(ends: Sequence[tuple[str, str | None]]) -> str:
    """A channel's writers or readers in words: "a, handler ← server" (children of
    `server` running the `handler` definition), "-" for none."""
    return ", ".join(w if spawner is None else f"{w} ← {spawner}" for w, spawner in ends) or "-"
