"""The timeline (`T`): who sent what to whom, a sequence chart of the run that scrolls
back to its start. It takes the event log's place while shown. A worker gets a column
once it has sent, received, acquired or released something (a worker that only computes
or sleeps would take room from those that talk), in the order the frames list them.

Every Snapshot feeds the run's Sequence (telemetry/sequence.py), shown or not, so the
chart is whole when it is opened; rows are drawn (tui/timeline_chart.py) only while it is
on screen. The chart follows the run's time: a paused run adds no rows, a step adds the
rows of what that step moved, slow motion adds them slowly. A new row is appended (the
log's own line cache keeps the others); a worker appearing or a resize draws every row
again, the view staying at the end when it was there.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, Static

from ipcviz.telemetry.sequence import RUNTIME, Sequence
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.timeline_chart import Columns, Row, rows_of

#: rows kept: the earliest go first past this many (a long busy run)
MAX_ROWS = 5000


class TimelineLog(RichLog):
    """The rows, scrollable (arrows, page keys, home and end) once focused."""


class Timeline(Vertical):
    """The heading (the workers' names over their lifelines) and the rows under it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sequence = Sequence(run_clock=True)
        self.rows: list[Row] = []
        self.dropped = 0
        self.names: list[str] = []
        """Every worker seen, in the order the frames list them."""
        self._seen: set[str] = set()
        """The same names, to look one up (a frame lists every worker: 512 at most)."""
        self.involved: set[str] = set()
        """Who sent, received, acquired or released something: only they get a column."""
        self._drawn_for: tuple[int, tuple[str, ...]] | None = None
        self._drawn = 0  # rows written to the log
        self._columns: Columns | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-heading")
        yield TimelineLog(wrap=False, markup=False, max_lines=MAX_ROWS)

    # The app hands every panel each Snapshot by setting `snapshot`.
    @property
    def snapshot(self) -> Snapshot | None:
        return None

    @snapshot.setter
    def snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        if snap.replay is not None and snap.replay.get("rebuild"):
            self.forget_run()  # a seek: what came before that frame is not known here
        self.add(snap)
        if self.display:
            self.draw()

    def add(self, snap: Snapshot) -> None:
        """Take in a frame: its workers, arrows and marks."""
        self.sequence.add(snap)
        seen = self._seen
        for worker in snap.workers:
            if worker.name not in seen:
                seen.add(worker.name)
                self.names.append(worker.name)
        arrows, marks, waiting = self.sequence.drain()
        new = rows_of(arrows, marks + waiting)
        for row in new:
            if row.arrow is not None:
                self.involved.update((row.arrow.sender, row.arrow.receiver))
            elif row.mark is not None:
                self.involved.add(row.mark.worker)
        self.rows += new
        if len(self.rows) > MAX_ROWS:
            cut = len(self.rows) - MAX_ROWS
            self.dropped += cut
            del self.rows[:cut]
            self._drawn = max(0, self._drawn - cut)

    def forget_run(self) -> None:
        """A new run (or a replay's seek): the chart starts again."""
        self.sequence = Sequence(run_clock=True)
        self.rows, self.names, self.involved, self.dropped = [], [], set(), 0
        self._seen = set()
        self._drawn_for, self._drawn = None, 0
        if self.is_mounted:
            self.query_one(TimelineLog).clear()

    def draw(self) -> None:
        """Bring the log up to date: new rows appended, or every row again when the
        columns changed."""
        log = self.query_one(TimelineLog)
        width = log.scrollable_content_region.width or self.size.width or self.app.size.width
        shown = [RUNTIME] if RUNTIME in self.involved else []
        shown += [name for name in self.names if name in self.involved]
        layout = (width, tuple(shown))
        if layout != self._drawn_for:
            self._drawn_for = layout
            self._columns = Columns(shown, width)
            heading = self._columns.heading()
            if self.dropped:
                heading.append(f" ({self.dropped} earlier rows dropped)", style="dim")
            self.query_one("#timeline-heading", Static).update(heading)
            at_end = log.scroll_offset.y >= log.max_scroll_y
            log.clear()
            self._drawn = 0
            self._write(log, at_end)
        else:
            self._write(log, None)

    def _write(self, log: TimelineLog, scroll_end: bool | None) -> None:
        columns = self._columns
        assert columns is not None
        for row in self.rows[self._drawn:]:
            log.write(columns.draw(row), width=columns.width, scroll_end=scroll_end)
        self._drawn = len(self.rows)
        if not self.rows:
            log.write(Text("nothing sent or received yet", style="dim"))
            self._drawn_for = None  # the first row replaces this line

    def on_resize(self) -> None:
        if self.display:
            self.call_after_refresh(self.draw)
