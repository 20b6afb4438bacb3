"""The event log: what happened, when, to whom (bounded). Repeats of one line are grouped
("timeline: SIGUSR1 sent ×20"), so a burst cannot push the interesting lines out; a
group spread over time says so ("×20, 100 ms apart"), since spaced signals are not a
burst (a standard signal merges only while one is pending). The log can be focused
(tab) and scrolled from the keyboard, and filtered by worker (`f`) and by kind (`F`)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.strip import Strip
from textual.widgets import RichLog

from ipcviz.telemetry.snapshot import EventView
from ipcviz.tui.event_words import event_words
from ipcviz.tui.widgets.base import off_screen

MAX_LINES = 500
_KIND_STYLE = {"signal": "cyan", "exit": "yellow", "io": "magenta", "runtime": "green",
               "output": "white", "start": "dim"}
#: what `F` cycles through: None (every kind), then each family of events
KIND_FILTERS: tuple[tuple[str, frozenset[str]] | None, ...] = (
    None,
    ("signals", frozenset({"signal"})),
    ("I/O", frozenset({"io"})),
    ("exits and the runtime", frozenset({"exit", "runtime", "start"})),
    ("program output", frozenset({"output"})),
)


#: repeats closer together than this (seconds) are a burst: shown as a bare "×N"
BURST_S = 0.01


@dataclass
class Entry:
    """One line of the log: an event and how many times in a row it happened."""

    event: EventView
    count: int = 1
    first: EventView | None = None
    """The first of the repeats (`event` holds the latest)."""
    gaps: tuple[float, float] | None = None
    """The shortest and longest wall-clock time between two repeats in a row."""

    def add(self, event: EventView) -> None:
        """One more repeat. Gaps are the wall clock's: whether repeats came close enough
        to be a burst is a fact of real time (a standard signal merges only while one is
        pending), also when the run clock stood still between them."""
        gap = max(0.0, event.t - self.event.t)
        if self.first is None:
            self.first = self.event
        self.gaps = (gap, gap) if self.gaps is None else (
            min(self.gaps[0], gap), max(self.gaps[1], gap))
        self.count += 1
        self.event = event  # the time of the latest

    def repeats_text(self) -> str:
        """" ×5" for a burst, " ×5, 100 ms apart" for evenly spaced repeats, " ×5 over
        1.20 s" otherwise: a grouped line never makes spaced events look like a burst.
        The spacing is the log's clock, the run clock (in slow motion, the file's
        `interval:`), unless it stood still between them (the run held): then the wall
        clock's, and the line says so."""
        if self.count <= 1:
            return ""
        shortest, longest = self.gaps or (0.0, 0.0)
        if longest < BURST_S:
            return f" ×{self.count}"
        first, last = self.first or self.event, self.event
        spread, note = last.shown_t - first.shown_t, ""
        if spread <= 0 and last.run_time is not None:
            spread, note = last.t - first.t, " (wall clock: the run was held)"
        if longest - shortest <= max(BURST_S, shortest / 4):
            spacing = spread / (self.count - 1)
            apart = f"{spacing * 1000:.0f} ms" if spacing < 1 else f"{spacing:.1f} s"
            return f" ×{self.count}, {apart} apart{note}"
        return f" ×{self.count} over {spread:.2f} s{note}"

    def same(self, event: EventView) -> bool:
        return (event.worker, event.text, event.event, event.kind) == (
            self.event.worker, self.event.text, self.event.event, self.event.kind)


class EventLog(RichLog):
    """Appends each Snapshot's new events; keeps the last MAX_LINES (grouped)."""

    can_focus = True  # tab moves here; then arrows, page keys and home/end scroll it

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)
        self.entries: deque[Entry] = deque(maxlen=MAX_LINES)
        #: only this worker's lines (None: every worker's)
        self.worker_filter: str | None = None
        self.kind_filter = 0  # an index of KIND_FILTERS
        #: entries came while the log was off the screen and are not drawn yet
        self._stale = False

    def shown(self, event: EventView) -> bool:
        kinds = KIND_FILTERS[self.kind_filter]
        return ((self.worker_filter is None or event.worker == self.worker_filter)
                and (kinds is None or event.kind in kinds[1]))

    def add_events(self, events: tuple[EventView, ...]) -> None:
        fresh: list[Entry] = []
        rewrite = False
        for event in events:
            last = self.entries[-1] if self.entries else None
            if last is not None and last.same(event):
                last.add(event)
                rewrite |= not any(e is last for e in fresh)  # a line already on screen
                continue
            entry = Entry(event)
            self.entries.append(entry)
            fresh.append(entry)
        if self._stale or off_screen(self):
            # below the screen's edge: each line written would lay the whole screen out
            # again (a RichLog's size changes); the entries are kept, drawn once in view
            self._stale = True
            return
        if rewrite:  # a line on screen changed its count: draw the log again
            self.redraw()
            return
        for entry in fresh:
            if self.shown(entry.event):
                self._write(entry)

    def render_line(self, y: int) -> Strip:
        if self._stale:  # in view again: the lines kept meanwhile
            self._stale = False
            self.call_later(self.redraw)
        return super().render_line(y)

    def redraw(self) -> None:
        """Draw the kept entries again (after a filter change or a grouped repeat)."""
        self._stale = False
        at_end = self.scroll_offset.y >= self.max_scroll_y
        super().clear()
        for entry in self.entries:
            if self.shown(entry.event):
                self._write(entry, scroll_end=at_end)

    def _write(self, entry: Entry, scroll_end: bool | None = None) -> None:
        """Write an entry's line cut at the log's own edge: left to RichLog, a line is
        measured against the console, whose width is not the screen's when the app runs
        headless (a screenshot cut every line at 80 cells, a repeat's count with it)."""
        width = self.scrollable_content_region.width if self._size_known else 0
        self.write(self._line(entry), width=width or None, scroll_end=scroll_end)

    def clear(self) -> EventLog:
        """Forget every entry (a new run)."""
        self.entries.clear()
        self._stale = False
        super().clear()
        return self

    def filter_text(self) -> str:
        parts = []
        if self.worker_filter is not None:
            parts.append(f"only {self.worker_filter}")
        kinds = KIND_FILTERS[self.kind_filter]
        if kinds is not None:
            parts.append(f"only {kinds[0]}")
        return ", ".join(parts)

    @staticmethod
    def _line(entry: Entry) -> Text:
        event = entry.event
        # cut at the log's edge with "…" (it was cut mid-word with no sign of more)
        # the run clock's time, as the header counts it (the wall clock's in an old recording)
        line = Text(f"{event.shown_t:7.2f}  ", style="dim", no_wrap=True, overflow="ellipsis")
        line.append(f"{event.worker:<12} ", style="bold")
        line.append(event_words(event), style=_KIND_STYLE.get(event.kind, ""))
        if entry.count > 1:
            line.append(entry.repeats_text(), style="bold reverse")
        return line
