"""Keys that arrange the screen (a mixin of the App): maximize the focused part, and
filter the event log by worker and by kind."""

from __future__ import annotations

from ipcviz.tui.widgets.events import KIND_FILTERS, EventLog


#: keys added after scenario files could already use them for triggers: a scenario's
#: trigger on one of them keeps it (its file stays valid), the app's own use gives way
SOFT_KEYS = {"z": "maximize_toggle", "f": "filter_worker", "F": "filter_kind",
             "v": "view_source", "e": "edit_source", "d": "shm_dtype", "T": "timeline"}


class LayoutKeys:
    """Mixin of IpcvizApp: `z` maximize/restore, `f` and `F` event-log filters (tab and
    shift+tab move the focus between the workers table and the event log)."""

    _trigger_keys: set[str]

    def _trigger_has(self, key: str) -> bool:
        """The scenario's trigger owns this soft key: fire it instead."""
        if key in self._trigger_keys:
            self.action_trigger(key)  # type: ignore[attr-defined]
            return True
        return False

    def action_shm_dtype(self) -> None:
        """`d`: a watched program's shared memory shown as the next numpy dtype."""
        if self._trigger_has("d"):
            return
        from ipcviz.tui.widgets.programs import ProgramsPanel

        for panel in self.query(ProgramsPanel):  # type: ignore[attr-defined]
            name = panel.next_dtype()
            self.notify(f"shared memory shown as {name}", timeout=2)  # type: ignore[attr-defined]

    def action_maximize_toggle(self) -> None:
        """`z`: the focused part (workers table or event log) fills the screen; again:
        back to the layout."""
        if self._trigger_has("z"):
            return
        screen = self.screen  # type: ignore[attr-defined]
        if screen.maximized is not None:
            screen.minimize()
        elif screen.focused is not None:
            screen.maximize(screen.focused, container=False)

    def action_timeline(self) -> None:
        """`T`: the timeline in the event log's place, focused (arrows scroll it, `z`
        gives it the screen); again: the event log back."""
        if self._trigger_has("T"):
            return
        from ipcviz.tui.widgets.timeline import Timeline, TimelineLog

        timeline = self.query_one(Timeline)  # type: ignore[attr-defined]
        log = self.query_one(EventLog)  # type: ignore[attr-defined]
        shown = not timeline.display
        timeline.display, log.display = shown, not shown
        if shown:
            timeline.query_one(TimelineLog).focus()
            timeline.call_after_refresh(timeline.draw)
        elif self.screen.maximized is not None:  # type: ignore[attr-defined]
            self.screen.minimize()  # type: ignore[attr-defined]

    def action_filter_worker(self) -> None:
        """`f`: the event log shows only the selected worker's lines, or everyone's."""
        if self._trigger_has("f"):
            return
        log = self.query_one(EventLog)  # type: ignore[attr-defined]
        worker = self.selected_worker  # type: ignore[attr-defined]
        log.worker_filter = None if log.worker_filter is not None else worker
        self._refilter(log)

    def action_filter_kind(self) -> None:
        """`F`: the event log shows one family of events (signals, I/O, exits, program
        output), cycling back to every kind."""
        if self._trigger_has("F"):
            return
        log = self.query_one(EventLog)  # type: ignore[attr-defined]
        log.kind_filter = (log.kind_filter + 1) % len(KIND_FILTERS)
        self._refilter(log)

    def _refilter(self, log: EventLog) -> None:
        log.redraw()
        shown = log.filter_text()
        log.border_title = f"events ({shown}; f/F: filters)" if shown else "events"
