"""The ipcviz App: renders Snapshots from a Source, turns keys into commands.

The App lays the panels out and applies each frame to them; what each key does is an
object of its own that the App composes (time_keys, process_keys, layout_keys,
authoring_keys, reload), reached through the `action_*` methods Textual looks up here."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.containers import Vertical

from ipcviz.protocol import Command, FireTrigger
from ipcviz.scenario.load import ScenarioError, bundled_scenarios, load_scenario
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.authoring_keys import WATCH_INTERVAL, AuthoringKeys
from ipcviz.tui.bindings import BINDINGS, LIVE_ACTIONS, PROCESS_ACTIONS
from ipcviz.tui.exit_signals import ExitSignals
from ipcviz.tui.feed import FrameFeed, SnapshotArrived, SourceFailed
from ipcviz.tui.layout_keys import SOFT_KEYS, LayoutKeys
from ipcviz.tui.panels import (
    BORDER_TITLES, PANELS, EventLog, ForgetsRuns, LessonText, LocksPanel, PipesPanel,
    ProgramsPanel, QueuesPanel, ResultLine, RpcPanel, SharedMemoryPanel, SignalsPanel, SourceView,
    ShowsSnapshots, SpeedPanel, StatusBar, Timeline, WorkersTable,
)
from ipcviz.tui.process_keys import ProcessKeys
from ipcviz.tui.reload import Reloader
from ipcviz.tui.replay import ReplaySource
from ipcviz.tui.screens import HelpScreen, PickerScreen
from ipcviz.tui.source import LiveSource, Source
from ipcviz.tui.time_keys import TimeKeys
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.footer import KeyFooter

__all__ = ["IpcvizApp", "SnapshotArrived", "SourceFailed", "make_app"]

NARROW_WIDTH = 100
#: a full garbage collection after this many middle ones (Python's default: 10): each
#: frame's Snapshot lives long enough to be promoted, so the default ran one every few
#: seconds
FULL_COLLECTION_EVERY = 100
#: after a resize, when the screen has been laid out again (Textual does it in its next
#: update, at most 1/60 s later on an idle machine; a loaded one may take longer: the
#: later looks cost nothing when the room did not change)
RELAYOUT_WAITS = (0.05, 0.3, 1.0)


class IpcvizApp(App[None]):
    """Live view of one scenario run (or the picker, when started without one)."""

    CSS_PATH = "app.tcss"
    TITLE = "ipcviz"
    #: the footer's room goes to ipcviz's own keys (the palette listed nothing of ours)
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = BINDINGS
    #: reads a new version of the scenario and restarts on it (served.py: never the file)
    reloader_class: type[Reloader] = Reloader
    #: the scenario file is watched for new versions while the app runs
    watches_file = True

    def __init__(self, source: Source | None = None, handle_signals: bool = False):
        super().__init__()
        self.source: Source | None = source
        #: SIGTERM/SIGHUP end the app the way `q` does (the CLI; not a test's event loop)
        self.handle_signals = handle_signals
        self.exit_signals = ExitSignals(self._stop_source,
                                        lambda code: self.exit(return_code=code))
        self.latest: Snapshot | None = None
        self.error_lines: list[str] = []
        self._trigger_keys: set[str] = set()
        self.feed = FrameFeed(self.post_message)
        self._panel_list: list[ShowsSnapshots] = []
        #: the next Snapshot is a new run's first: every panel draws it, none is deferred
        #: (drawing is what hides a panel the run has nothing for; one kept from the last
        #: run below the edge would stay, pushing the event log off the screen)
        self._new_run = True
        #: the run was opened from the picker: `q` returns there
        self.from_picker = False
        self.reloader = self.reloader_class(self, restarted=self._restarted)
        self.time_keys = TimeKeys(self, self.reloader)
        self.process_keys = ProcessKeys(self)
        self.layout_keys = LayoutKeys(self)
        self.authoring = AuthoringKeys(self, self.reloader)

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield ResultLine()
        yield LessonText()
        with Vertical(id="main"):
            yield WorkersTable()
            yield SpeedPanel()
            yield ProgramsPanel()
            yield SignalsPanel()
            yield PipesPanel()
            yield QueuesPanel()
            yield RpcPanel()
            yield SharedMemoryPanel()
            yield LocksPanel()
        yield SourceView()
        yield EventLog()
        yield Timeline()
        yield KeyFooter()

    def on_mount(self) -> None:
        self._apply_width(self.size.width)
        self.query_one(WorkersTable).focus()
        for widget_type, title in BORDER_TITLES.items():
            self.query_one(widget_type).border_title = title
        self.query_one(SourceView).display = False
        if self.watches_file:
            self.set_interval(WATCH_INTERVAL, self.authoring.watch_file)
        if self.handle_signals:
            self.exit_signals.install()
        if self.source is not None:
            self.start_source(self.source)
        else:
            self._open_picker()

    def on_resize(self, event: object) -> None:
        self._apply_width(self.size.width)
        if self._panel_list:  # the pipes panel's room on screen changes with its height,
            # known once the screen has laid itself out for the new size (after this event,
            # later on a busy machine): looked at again a little later too, in case not yet
            for wait in RELAYOUT_WAITS:
                self.set_timer(wait, self.query_one(PipesPanel).check_room)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW_WIDTH, "narrow")

    # ------------------------------------------------------------ sources

    def start_source(self, source: Source) -> None:
        """Show a new run from `source` in place of the current one."""
        self.feed.reset()
        self.source = source
        self._new_run = True
        for panel in self._panel_list:  # (empty before the first run's first frame)
            if isinstance(panel, ForgetsRuns):
                panel.forget_run()

        def arrived(snap: Snapshot) -> None:  # on the source's thread
            if source is self.source:  # not a frame of a run that has been replaced
                self.feed.arrived(snap, source.coalesce)

        def failed(lines: list[str]) -> None:
            self.post_message(SourceFailed(lines))

        source.start(arrived, failed)

    def _restarted(self, source: LiveSource) -> None:
        self.authoring.source_view_follows(source)

    def _open_picker(self) -> None:
        entries = []
        for path in bundled_scenarios():
            try:
                scenario = load_scenario(path)
            except ScenarioError:
                continue
            entries.append((path, scenario.name, scenario.model.description))
        self.push_screen(PickerScreen(entries), self._picked)

    def _picked(self, path: Path | None) -> None:
        if path is not None:
            self.from_picker = True
            self.start_source(LiveSource(str(path), held=True))

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        coalesce = self.source is None or self.source.coalesce
        snap = self.feed.take() if coalesce else message.snapshot
        if snap is None:
            return
        first = self.latest is None
        self.latest = snap
        if first:
            self._bind_triggers(snap)
            if self.handle_signals:  # the CLI's app, not a test's (many apps, one process)
                self.call_after_refresh(_freeze_startup_objects)
        new_run, self._new_run = self._new_run, False
        with self.batch_update():
            for panel in self._panels():
                if isinstance(panel, Panel) and not new_run and panel.off_screen():
                    panel.track(snap)  # its histories see every frame; drawn once in view
                    panel.deferred = snap
                else:
                    if isinstance(panel, Panel):
                        panel.deferred = None
                    panel.snapshot = snap
            log = self.query_one(EventLog)
            if snap.replay is not None and snap.replay.get("rebuild"):
                log.clear()  # a seek: the log as it was at that moment
            log.add_events(snap.events)
        if coalesce:
            self.call_after_refresh(self.feed.painted)

    def _panels(self) -> list[ShowsSnapshots]:
        """The widgets that get each Snapshot, in drawing order (looked up once)."""
        if not self._panel_list:
            found = [self.query_one(widget_type) for widget_type in PANELS]
            self._panel_list = [panel for panel in found if isinstance(panel, ShowsSnapshots)]
        return self._panel_list

    def on_source_failed(self, message: SourceFailed) -> None:
        self.error_lines = message.lines
        self.exit()

    def _bind_triggers(self, snap: Snapshot) -> None:
        for key, label in snap.triggers:
            if key not in self._trigger_keys:
                self._trigger_keys.add(key)
                if key not in SOFT_KEYS:  # (a soft key's own action fires the trigger)
                    self.bind(key, f"trigger({key!r})", description=label)
        self.refresh_bindings()

    # ------------------------------------------------------------ what the keys reach

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Worker keys only make sense in the live view, not over the picker; a replay
        has no processes to act on, and only a replay seeks."""
        if action in LIVE_ACTIONS and isinstance(self.screen, PickerScreen):
            return False
        if action in PROCESS_ACTIONS and self.is_replay:
            return False
        if action == "seek" and not self.is_replay:
            return False
        return True

    @property
    def is_replay(self) -> bool:
        return isinstance(self.source, ReplaySource)

    @property
    def selected_worker(self) -> str | None:
        return self.query_one(WorkersTable).selected_worker

    def send(self, command: Command) -> None:
        if self.source is not None:
            self.source.send(command)

    def trigger_owns(self, key: str) -> bool:
        """The scenario's trigger owns this soft key: fire it instead."""
        if key in self._trigger_keys:
            self.action_trigger(key)
            return True
        return False

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """One toast at a time: a new one replaces the last (thirty presses of a key
        must not cover the panels)."""
        self.clear_notifications()
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    # ------------------------------------------------------------ actions

    def action_trigger(self, key: str) -> None:
        self.send(FireTrigger(key))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.latest.triggers if self.latest else ()))

    async def action_quit(self) -> None:
        """`q`: the run is stopped and swept; a scenario opened from the picker goes back
        to the picker, anything else ends the app."""
        self._stop_source()
        if self.from_picker and not isinstance(self.screen, PickerScreen):
            self.source, self.latest, self.from_picker = None, None, False
            self.query_one(EventLog).clear()
            self._open_picker()
            return
        self.exit()

    # time (time_keys.py)
    def action_toggle_run(self) -> None:
        self.time_keys.toggle_run()

    def action_step_all(self) -> None:
        self.time_keys.step_all()

    def action_step_worker(self) -> None:
        self.time_keys.step_worker()

    def action_speed(self, direction: int) -> None:
        self.time_keys.speed(direction)

    def action_seek(self, frames: int, seconds: int) -> None:
        self.time_keys.seek(frames, seconds)

    def action_restart_all(self) -> None:
        self.time_keys.restart_all()

    # the selected worker's process (process_keys.py)
    def action_signal(self, name: str) -> None:
        self.process_keys.signal(name)

    def action_signal_picker(self) -> None:
        self.process_keys.signal_picker()

    def action_restart(self) -> None:
        self.process_keys.restart()

    def action_pause(self) -> None:
        self.process_keys.pause()

    def action_toggle_lock(self) -> None:
        self.process_keys.toggle_lock()

    # the screen's layout (layout_keys.py)
    def action_maximize_toggle(self) -> None:
        self.layout_keys.maximize_toggle()

    def action_timeline(self) -> None:
        self.layout_keys.timeline()

    def action_filter_worker(self) -> None:
        self.layout_keys.filter_worker()

    def action_filter_kind(self) -> None:
        self.layout_keys.filter_kind()

    def action_shm_dtype(self) -> None:
        self.layout_keys.shm_dtype()

    # the scenario file (authoring_keys.py)
    def action_view_source(self) -> None:
        self.authoring.view_source()

    def action_edit_source(self) -> None:
        self.authoring.edit_source()

    def _stop_source(self) -> None:
        if self.source is not None:
            self.source.stop()

    def on_unmount(self) -> None:
        self._stop_source()
        self.exit_signals.remove()


def _freeze_startup_objects() -> None:
    """Once the first frame is on screen: what exists now (Textual, the widgets, every
    module) lives as long as the app, so the garbage collector stops walking it (a full
    collection walked all of it, with the UI stopped, every few seconds)."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def make_app(source: Source | None = None, handle_signals: bool = False) -> IpcvizApp:
    """The one factory the CLI and the tests use."""
    return IpcvizApp(source, handle_signals)
