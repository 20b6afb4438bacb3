"""Keys that arrange the screen: maximize the focused part, the timeline in the event
log's place, filter the event log by worker and by kind, and a program's shared memory
shown as another dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipcviz.tui.widgets.events import KIND_FILTERS, EventLog

if TYPE_CHECKING:
    from ipcviz.tui.live_view import LiveView


#: keys added after scenario files could already use them for triggers: a scenario's
#: trigger on one of them keeps it (its file stays valid), the app's own use gives way
SOFT_KEYS = {"z": "maximize_toggle", "f": "filter_worker", "F": "filter_kind",
             "v": "view_source", "e": "edit_source", "d": "shm_dtype", "T": "timeline"}


class LayoutKeys:
    """`z` maximize/restore, `T` timeline, `f` and `F` event-log filters, `d` dtype (tab
    and shift+tab move the focus between the workers table and the event log)."""

    def __init__(self, app: LiveView) -> None:
        self.app = app

    def shm_dtype(self) -> None:
        """`d`: a watched program's shared memory shown as the next numpy dtype."""
        if self.app.trigger_owns("d"):
            return
        from ipcviz.tui.widgets.programs import ProgramsPanel

        for panel in self.app.query(ProgramsPanel):
            name = panel.next_dtype()
            self.app.notify(f"shared memory shown as {name}", timeout=2)

    def maximize_toggle(self) -> None:
        """`z`: the focused part (workers table or event log) fills the screen; again:
        back to the layout."""
        if self.app.trigger_owns("z"):
            return
        screen = self.app.screen
        if screen.maximized is not None:
            screen.minimize()
        elif screen.focused is not None:
            screen.maximize(screen.focused, container=False)

    def timeline(self) -> None:
        """`T`: the timeline in the event log's place, focused (arrows scroll it, `z`
        gives it the screen); again: the event log back."""
        if self.app.trigger_owns("T"):
            return
        from ipcviz.tui.widgets.timeline import Timeline, TimelineLog

        timeline = self.app.query_one(Timeline)
        log = self.app.query_one(EventLog)
        shown = not timeline.display
        timeline.display, log.display = shown, not shown
        if shown:
            timeline.query_one(TimelineLog).focus()
            timeline.call_after_refresh(timeline.draw)
        elif self.app.screen.maximized is not None:
            self.app.screen.minimize()

    def filter_worker(self) -> None:
        """`f`: the event log shows only the selected worker's lines, or everyone's."""
        if self.app.trigger_owns("f"):
            return
        log = self.app.query_one(EventLog)
        worker = self.app.selected_worker
        log.worker_filter = None if log.worker_filter is not None else worker
        _refilter(log)

    def filter_kind(self) -> None:
        """`F`: the event log shows one family of events (signals, I/O, exits, program
        output), cycling back to every kind."""
        if self.app.trigger_owns("F"):
            return
        log = self.app.query_one(EventLog)
        log.kind_filter = (log.kind_filter + 1) % len(KIND_FILTERS)
        _refilter(log)


def _refilter(log: EventLog) -> None:
    log.redraw()
    shown = log.filter_text()
    log.border_title = f"events ({shown}; f/F: filters)" if shown else "events"
