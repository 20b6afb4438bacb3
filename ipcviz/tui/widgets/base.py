"""Panel: a widget that draws a list of Text lines and redraws only the lines that changed.

A Snapshot arrives ten times a second. Handing a Static a new renderable makes Textual
convert and lay out all of it again; a Panel instead compares each new line with the one
on screen, renders the changed ones straight to Strips (Textual's line API) and refreshes
just those rows. A new frame of the same height needs no layout pass of the screen.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.errors import NoWidget
from textual.geometry import Region
from textual.strip import Strip
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

if TYPE_CHECKING:
    from ipcviz.telemetry.snapshot import Snapshot

BORDER_LINES = 1  # panels have a top border with their title


class FrameStyle:
    """A line-API widget's Rich style (its CSS and every ancestor's, dear to work out),
    worked out once per frame, not once per line drawn. The widget calls `new_frame()`
    when a Snapshot arrives, and again (with its drawn lines dropped: they carry the old
    style) from its `notify_style_update` when its CSS changes (a theme, a pseudo-class)."""

    def __init__(self, widget: Widget) -> None:
        self.widget = widget
        self._style: Style | None = None

    def get(self) -> Style:
        style = self._style
        if style is None:
            style = self._style = self.widget.rich_style
        return style

    def new_frame(self) -> None:
        self._style = None


class Panel(Widget, can_focus=True):
    """Base of the panels: `show(lines)` with the panel's Text lines."""

    def __init__(self, **kwargs: Any) -> None:
        # before Widget's own __init__, which may already tell of a style update
        self.frame_style = FrameStyle(self)
        super().__init__(**kwargs)
        self._text_lines: list[Text] = []
        self._strips: list[Strip | None] = []
        self._height = -1
        self._strip_width = -1
        #: what the panel drew last, as plain values: an equal key skips the redraw
        self._key: object = None
        self._tracked: object = None
        #: the newest Snapshot while the panel is below the screen's edge (not drawn)
        self.deferred: Snapshot | None = None

    def off_screen(self) -> bool:
        """Laid out and shown, but no line of it on the screen (the screen does not
        scroll: a panel pushed below its bottom edge by the ones above is cut off). Such
        a panel skips its drawing (at 64 workers the queues and the 64x64 array were a
        fifth of the UI's work each frame, for nothing to see). It keeps the newest
        Snapshot in `deferred` and is drawn from it as soon as the compositor paints a
        line of it again (`render_line`: after a resize, `z`, or a panel above shrinking)."""
        return off_screen(self)

    def track(self, snap: Snapshot | None) -> None:
        """Keep what must see every frame, drawn or not (a history, a rate window); once
        per Snapshot, however often it is drawn."""
        if snap is not self._tracked and snap is not None:
            self._tracked = snap
            self.record(snap)

    def record(self, snap: Snapshot) -> None:
        """A panel's own per-frame bookkeeping (see `track`); most have none."""

    def forget_run(self) -> None:
        """A new run starts in this app (the picker, `q`, another lesson): what the last
        one left (its newest Snapshot, a panel's histories) goes."""
        self.deferred = self._tracked = self._key = None

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
        self.frame_style.new_frame()
        height = len(lines) + BORDER_LINES
        if height != self._height:  # a new height: lay the screen out again
            self._height = height
            self.styles.height = height
            self._text_lines, self._strips = lines, [None] * len(lines)
            self.refresh(layout=True)
            return
        width = self.size.width
        # a line below the screen's edge (or under the footer) is kept and drawn when it
        # is painted again; refreshing it made the compositor paint every widget above it
        shown = shown_lines(self)
        for y, line in enumerate(lines):
            if line != self._text_lines[y]:
                self._text_lines[y] = line
                self._strips[y] = None
                if shown is None or y < shown:
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
            return Strip.blank(width, self.frame_style.get())
        strip = self._strips[y]
        if strip is None:
            line = self._text_lines[y]
            if line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            base = self.frame_style.get()
            segments = Segment.apply_style(line.render(self.app.console), base)
            strip = self._strips[y] = Strip(segments).crop_extend(0, width, base)
        return strip

    def on_resize(self) -> None:
        self._strip_width = -1
        self.refresh()

    def notify_style_update(self) -> None:
        self.frame_style.new_frame()
        self.forget_lines()
        super().notify_style_update()

    def forget_lines(self) -> None:
        """Drop the lines drawn (they carry the old style)."""
        self._strip_width = -1


def shown_lines(widget: Widget, clip: bool = True) -> int | None:
    """How many of the widget's content lines, from its first, are on the screen: not
    below its edge, not under a bar docked at its bottom (the footer) and, with `clip`,
    not outside its container. None: not laid out yet. Textual repaints the box around all
    changed lines, every widget in it: a changed line nobody can see (the screen does not
    scroll) made the whole screen repaint each frame, so panels refresh only these.
    Without `clip`: the lines the screen has room for from the widget's top, however
    tall its container is now (what a panel may grow to)."""
    rows = _rows_on_screen(widget, clip)
    return None if rows is None else max(0, rows - widget.content_offset.y)


def _rows_on_screen(widget: Widget, clip: bool = True) -> int | None:
    """Rows of the widget from its top, border included, above the screen's bottom edge
    and its footer (and, with `clip`, inside its container); None: not laid out."""
    try:
        screen = widget.screen
        geometry = screen.find_widget(widget)
    except (NoWidget, LookupError, AttributeError):  # not laid out yet
        return None
    bottom = _visible_bottom(screen)
    if clip:
        bottom = min(bottom, geometry.clip.bottom)
    return bottom - geometry.region.y


#: each screen's footer (or None), looked up once: a query walks the whole DOM
_footers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _visible_bottom(screen: Screen) -> int:
    """The first screen line under the footer (the screen's height without one)."""
    footer = _footers.get(screen, False)
    if footer is False or (footer is not None and not footer.is_attached):
        found = list(screen.query(Footer))
        footer = _footers[screen] = found[0] if found else None
    if footer is not None and footer.display:
        try:
            return screen.find_widget(footer).region.y
        except (NoWidget, LookupError):
            pass
    return screen.region.bottom


def off_screen(widget: Widget) -> bool:
    """The widget is shown and laid out, but not one row of it, its border included, is
    on the screen (below its edge or under the footer). A panel whose title alone shows
    is drawn: drawing is also what hides a panel with nothing to show, and one left
    stale there kept its rows and pushed the event log off the screen."""
    if not widget.display:
        return False
    rows = _rows_on_screen(widget)
    return rows is not None and rows <= 0


def ends_text(ends: Sequence[tuple[str, str | None]]) -> str:
    """A channel's writers or readers in words: "a, handler ← server" (children of
    `server` running the `handler` definition), "-" for none."""
    return ", ".join(w if spawner is None else f"{w} ← {spawner}" for w, spawner in ends) or "-"
