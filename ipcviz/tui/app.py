"""The ipcviz App: renders Snapshots from a Source, turns keys into commands."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message

from ipcviz.protocol import (
    Command,
    FireTrigger,
    PauseSteps,
    Restart,
    ResumeSteps,
    SendSignal,
    SetLock,
)
from ipcviz.scenario.load import ScenarioError, bundled_scenarios, load_scenario
from ipcviz.signals import parse_signal, signal_name
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.screens import HelpScreen, PickerScreen, SignalPicker
from ipcviz.tui.source import LiveSource, Source
from ipcviz.tui.authoring_keys import WATCH_INTERVAL, AuthoringKeys
from ipcviz.tui.layout_keys import SOFT_KEYS, LayoutKeys
from ipcviz.tui.reload import ReloadChecks
from ipcviz.tui.time_keys import TimeKeys
from ipcviz.tui.widgets.base import Panel
from ipcviz.tui.widgets.footer import KeyFooter
from ipcviz.tui.panels import (
    BORDER_TITLES, PANELS, EventLog, LessonText, LocksPanel, PipesPanel, ProgramsPanel,
    QueuesPanel, ResultLine, RpcPanel, SharedMemoryPanel, SignalsPanel, SourceView,
    SpeedPanel, StatusBar, Timeline, WorkersTable,
)

NARROW_WIDTH = 100
#: a full garbage collection after this many middle ones (Python's default: 10): each
#: frame's Snapshot lives long enough to be promoted, so the default ran one every 2-3 s
FULL_COLLECTION_EVERY = 100
#: after SIGTERM/SIGHUP, seconds the app's shutdown may take before the process just ends
EXIT_GRACE = 5.0


class SnapshotArrived(Message):
    """A new Snapshot from the source (posted from the source's reader thread)."""

    def __init__(self, snapshot: Snapshot):
        super().__init__()
        self.snapshot = snapshot


class SourceFailed(Message):
    """The source could not run the scenario; `lines` say why."""

    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines


#: after a resize, when the screen has been laid out again (Textual does it in its next
#: update, at most 1/60 s later)
RELAYOUT_WAIT = 0.05


class IpcvizApp(TimeKeys, LayoutKeys, AuthoringKeys, ReloadChecks, App[None]):
    """Live view of one scenario run (or the picker, when started without one)."""

    CSS_PATH = "app.tcss"
    TITLE = "ipcviz"
    #: the footer's room goes to ipcviz's own keys (the palette listed nothing of ours)
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        # `?` and `q` first: the footer fills from the left and a narrow terminal cuts
        # its right end, so these two are always in view
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        # then time (every lesson), then the signals and the race switch (some lessons)
        Binding("space", "toggle_run", "pause run"),
        Binding("n", "step_all", "step all"),
        Binding("N", "step_worker", "step one"),
        Binding("minus", "speed(-1)", "slower"),
        Binding("plus", "speed(1)", "faster"),
        Binding("t", "signal('SIGTERM')", "TERM"),
        Binding("k", "signal('SIGKILL')", "KILL"),
        Binding("i", "signal('SIGINT')", "INT"),
        Binding("s", "signal('SIGSTOP')", "STOP"),
        Binding("c", "signal('SIGCONT')", "CONT"),
        Binding("u", "signal('SIGUSR1')", "USR1"),
        Binding("S", "signal_picker", "any signal"),
        Binding("R", "restart", "restart"),
        Binding("p", "pause", "pause steps"),
        Binding("l", "toggle_lock", "lock on/off"),
        Binding("enter", "step_worker", "step one", show=False),
        Binding("ctrl+r", "restart_all", "restart run", show=False),
        Binding("z", "maximize_toggle", "maximize", show=False),
        Binding("d", "shm_dtype", "shm as", show=False),
        Binding("f", "filter_worker", "events of worker", show=False),
        Binding("F", "filter_kind", "events by kind", show=False),
        Binding("v", "view_source", "YAML", show=False),
        Binding("T", "timeline", "timeline", show=False),
        Binding("e", "edit_source", "edit", show=False),
        Binding("left", "seek(-1, 0)", "frame back", show=False, priority=True),
        Binding("right", "seek(1, 0)", "frame on", show=False, priority=True),
        Binding("shift+left", "seek(0, -1)", "1 s back", show=False, priority=True),
        Binding("shift+right", "seek(0, 1)", "1 s on", show=False, priority=True),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    def __init__(self, source: Source | None = None, handle_signals: bool = False):
        super().__init__()
        self.source = source
        #: SIGTERM/SIGHUP end the app the way `q` does (the CLI; not a test's event loop)
        self.handle_signals = handle_signals
        self._signal_handlers: list[int] = []
        self.latest: Snapshot | None = None
        self.error_lines: list[str] = []
        self._trigger_keys: set[str] = set()
        self._pending_lock = threading.Lock()
        #: a Snapshot was applied and is not painted yet: the next one waits for the paint
        self._unpainted = False
        self._panel_list: list = []
        #: the next Snapshot is a new run's first: every panel draws it, none is deferred
        #: (drawing is what hides a panel the run has nothing for; one kept from the last
        #: run below the edge would stay, pushing the event log off the screen)
        self._new_run = True
        self._pending: Snapshot | None = None
        self._pending_events: list = []
        #: the run was opened from the picker: `q` returns there
        self.from_picker = False

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
        self.set_interval(WATCH_INTERVAL, self._watch_file)
        if self.handle_signals:
            self._install_signal_handlers()
        if self.source is not None:
            self._start(self.source)
        else:
            self._open_picker()

    def _install_signal_handlers(self) -> None:
        """A terminal closed (SIGHUP) or a `kill` (SIGTERM) quits like `q`: the runtime is
        stopped and its run swept before the UI goes; the exit status says which signal."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._signalled, int(sig))
            self._signal_handlers.append(int(sig))

    def _signalled(self, sig: int) -> None:
        self._stop_source()
        # The terminal may be gone (SIGHUP): Textual's own shutdown then writes to a
        # hung-up tty and, rarely, never returns (seen under load: every thread waiting
        # on a lock). The run is already stopped and swept; the process ends anyway.
        watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(128 + sig,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(return_code=128 + sig)

    def on_resize(self, event: object) -> None:
        self._apply_width(self.size.width)
        if self._panel_list:  # the pipes panel's room on screen changes with its height,
            # known once the screen has laid itself out for the new size (after this event)
            self.set_timer(RELAYOUT_WAIT, self.query_one(PipesPanel).check_room)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW_WIDTH, "narrow")

    # ------------------------------------------------------------ sources

    def _start(self, source: Source) -> None:
        with self._pending_lock:  # frames of a run left behind (ctrl+r) are not shown
            self._pending, self._pending_events = None, []
            self._unpainted = False
        self.source = source
        self._new_run = True
        for panel in self._panel_list:  # (empty before the first run's first frame)
            if hasattr(panel, "forget_run"):
                panel.forget_run()
        source.start(lambda snap: self._arrived(snap, source),
                     lambda lines: self.post_message(SourceFailed(lines)))

    def _arrived(self, snap: Snapshot, source: Source | None = None) -> None:
        """From the source's thread: keep only the newest Snapshot (and every event), so a
        busy UI never falls behind the data; one message is in flight at a time."""
        if source is not None and source is not self.source:
            return  # a frame of a run that has been replaced
        if self.source is not None and not self.source.coalesce:  # fixed data: every frame counts
            self.post_message(SnapshotArrived(snap))
            return
        with self._pending_lock:
            first = self._pending is None and not self._unpainted
            self._pending = snap
            self._pending_events.extend(snap.events)
        if first:
            self.post_message(SnapshotArrived(snap))

    def _take_pending(self) -> Snapshot | None:
        import dataclasses

        with self._pending_lock:
            snap, events = self._pending, self._pending_events
            self._pending, self._pending_events = None, []
            self._unpainted = snap is not None
        if snap is None:
            return None
        return dataclasses.replace(snap, events=tuple(events))

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
            self._start(LiveSource(str(path), held=True))

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        coalesce = self.source is None or self.source.coalesce
        snap = self._take_pending() if coalesce else message.snapshot
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
                    panel.snapshot = snap  # type: ignore[attr-defined]
            log = self.query_one(EventLog)
            if snap.replay is not None and snap.replay.get("rebuild"):
                log.clear()  # a seek: the log as it was at that moment
            log.add_events(snap.events)
        if coalesce:
            self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        """The last Snapshot is on screen: the newest one that came meanwhile goes next
        (applying a second before the first was painted held a key's answer back by the
        second's whole work, 17 ms at 64 workers)."""
        with self._pending_lock:
            self._unpainted = False
            waiting = self._pending
        if waiting is not None:
            self.post_message(SnapshotArrived(waiting))

    def _panels(self) -> list:
        """The widgets that get each Snapshot, in drawing order (looked up once)."""
        if not self._panel_list:
            self._panel_list = [self.query_one(t) for t in PANELS]
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

    # ------------------------------------------------------------ actions

    LIVE_ACTIONS = frozenset({"signal", "signal_picker", "restart", "pause", "trigger", "help",
                              "toggle_lock", "toggle_run", "step_all", "step_worker",
                              "speed", "restart_all", "seek", "view_source", "edit_source",
                              "maximize_toggle", "filter_worker", "filter_kind",
                              "timeline"})
    #: keys that act on processes: a replay has none (its keys are space, -/+ and seeking)
    PROCESS_ACTIONS = frozenset({"signal", "signal_picker", "restart", "pause", "trigger",
                                 "toggle_lock", "step_all", "step_worker", "restart_all",
                                 "edit_source"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Worker keys only make sense in the live view, not over the picker; a replay
        has no processes to act on, and only a replay seeks."""
        if action in self.LIVE_ACTIONS and isinstance(self.screen, PickerScreen):
            return False
        if action in self.PROCESS_ACTIONS and self.is_replay:
            return False
        if action == "seek" and not self.is_replay:
            return False
        return True

    @property
    def selected_worker(self) -> str | None:
        return self.query_one(WorkersTable).selected_worker

    def _send(self, command: Command) -> None:
        if self.source is not None:
            self.source.send(command)

    def notify(self, message: str, **kwargs: object) -> None:  # type: ignore[override]
        """One toast at a time: a new one replaces the last (thirty presses of a key
        must not cover the panels)."""
        self.clear_notifications()
        super().notify(message, **kwargs)  # type: ignore[arg-type]

    def _gone(self, worker: str) -> bool:
        """True (and said) when the worker has exited: nothing can be sent to it."""
        view = self.latest.worker(worker) if self.latest else None
        if view is not None and view.state == "exited":
            self.notify(f"{worker} has exited ({view.exit_text or 'ended'}): nothing sent",
                        timeout=3, markup=False)
            return True
        return False

    def action_signal(self, name: str) -> None:
        worker = self.selected_worker
        if worker is None or self._gone(worker):
            return
        self._send(SendSignal(worker, parse_signal(name)))
        self.notify(f"{name} → {worker}", timeout=2, markup=False)

    def action_signal_picker(self) -> None:
        worker = self.selected_worker
        if worker is None:
            return
        view = self.latest.worker(worker) if self.latest else None
        group = view.group if view is not None else worker

        def chosen(choice: tuple[int, bool] | None) -> None:
            if choice is not None:
                num, to_group = choice
                target = group if to_group else worker
                if not to_group and self._gone(worker):
                    return
                self._send(SendSignal(target, num))
                self.notify(f"{signal_name(num)} → {target}", timeout=2, markup=False)

        self.push_screen(SignalPicker(worker, group), chosen)

    def action_restart(self) -> None:
        worker = self.selected_worker
        if worker is not None:
            self._send(Restart(worker))

    def action_pause(self) -> None:
        worker = self.selected_worker
        if worker is None or self.latest is None:
            return
        view = self.latest.worker(worker)
        paused = view is not None and view.paused
        self._send(ResumeSteps(worker) if paused else PauseSteps(worker))

    def action_toggle_lock(self) -> None:
        """The race switch: the selected worker's `lock:` use off (or back on)."""
        worker = self.selected_worker
        if worker is None or self.latest is None:
            return
        view = self.latest.worker(worker)
        if view is not None and not view.uses_lock:
            self.notify(f"{worker} takes no lock: nothing to switch", timeout=3,
                        markup=False)
            return
        if self._gone(worker):
            return
        enabled = bool(view and view.lock_off)
        self._send(SetLock(worker, enabled))
        self.notify(f"{worker}: lock {'on' if enabled else 'OFF'}", timeout=2, markup=False)

    def action_trigger(self, key: str) -> None:
        self._send(FireTrigger(key))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.latest.triggers if self.latest else ()))

    async def action_quit(self) -> None:
        """`q`: the run is stopped and swept; a scenario opened from the picker goes back
        to the picker, anything else ends the app."""
        self._stop_source()
        if self.from_picker and not isinstance(self.screen, PickerScreen):
            from ipcviz.tui.widgets.events import EventLog

            self.source, self.latest, self.from_picker = None, None, False
            self.query_one(EventLog).clear()
            self._open_picker()
            return
        self.exit()

    def _stop_source(self) -> None:
        if self.source is not None:
            self.source.stop()

    def on_unmount(self) -> None:
        self._stop_source()
        if self._signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in self._signal_handlers:
                loop.remove_signal_handler(sig)
            self._signal_handlers = []


def _freeze_startup_objects() -> None:
    """Once the first frame is on screen: what exists now (Textual, the widgets, every
    module) lives as long as the app, so the garbage collector stops walking it. A full
    collection walked all of it: 96-126 ms with the UI stopped, every few seconds at 64
    workers, which was the slowest key presses' wait (issue 18)."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def make_app(source: Source | None = None, handle_signals: bool = False) -> IpcvizApp:
    """The one factory the CLI and the tests use."""
    return IpcvizApp(source, handle_signals)
