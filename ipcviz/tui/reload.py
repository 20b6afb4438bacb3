"""A new version of the running scenario: ctrl+r, `e` and the watch on
the file all come here. The file is opened and read once again (opening.py) and everything
is decided on those bytes: they must load, they may run programs only as the first
version could (bundled, or --allow-exec), and programs that differ from the ones running
(command line, directory, environment, attached process) start only after the user has
seen them and said yes: --allow-exec was given for the programs the user launched, not
for whatever the file says later."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ipcviz.format import escape_control
from ipcviz.scenario.programs import exec_refusal, programs
from ipcviz.tui.source import LiveSource

if TYPE_CHECKING:
    from ipcviz.scenario.load import LoadedScenario
    from ipcviz.scenario.opening import OpenedScenario
    from ipcviz.tui.live_view import LiveView


def program_lines(scenario: LoadedScenario) -> list[str]:
    """Each program the scenario starts (or process it watches), as the user should read it:
    name, command line, working directory and environment."""
    lines = []
    for name in programs(scenario.model):
        worker = scenario.model.workers[name]
        if worker.attach is not None:
            lines.append(f"{name}: watches process {worker.attach.pid}"
                         + (" (may signal it)" if worker.attach.signals else ""))
            continue
        line = f"{name}: {shlex.join(worker.exec or [])}"
        if worker.cwd is not None:
            line += f"  (in {worker.cwd})"
        if worker.env:
            line += "  with " + " ".join(f"{k}={shlex.quote(str(v))}"
                                         for k, v in worker.env.items())
        lines.append(line)
    return lines


def programs_key(scenario: LoadedScenario) -> str:
    """Everything that says what the scenario's programs are: their whole definitions and
    the directory their relative paths are taken from. Equal keys: the same programs."""
    base = str(Path(scenario.path).resolve().parent) if scenario.path else ""
    definitions = {name: scenario.model.workers[name].model_dump(mode="json")
                   for name in programs(scenario.model)}
    return json.dumps([base, definitions], sort_keys=True, default=str)


class ConfirmProgramsScreen(ModalScreen[bool]):
    """The programs a new version of the file would start; `y` runs them, any other key
    keeps the old run."""

    def __init__(self, name: str, lines: list[str]):
        super().__init__()
        self.scenario_name = name
        self.lines = lines

    def compose(self) -> ComposeResult:
        body = Text(f"{self.scenario_name} changed the programs it runs. The new version "
                    "would start:\n\n", style="bold")
        for line in self.lines[:30]:
            body.append("  " + escape_control(line) + "\n", style="yellow")  # never markup
        if len(self.lines) > 30:
            body.append(f"  ... and {len(self.lines) - 30} more\n", style="yellow")
        body.append("\ny: run them (the run restarts)   any other key: keep the old run",
                    style="dim")
        with Vertical(id="help"):
            yield Static(body)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key == "y")


#: after the notice that the run restarts, before the old run is stopped (the notice is
#: drawn first: stopping a run takes a moment)
RESTART_DELAY = 0.1


class Reloader:
    """Opens the running scenario's file again and restarts the run on it (ctrl+r, `e`
    and the watch on the file all come here)."""

    def __init__(self, app: LiveView, restarted: Callable[[LiveSource], None]) -> None:
        self.app = app
        #: told of each new run a reload started (the YAML view follows it)
        self.restarted = restarted

    def reload_scenario(self) -> None:
        """Read the scenario again and restart the run on exactly those bytes, if they
        load and may run; otherwise show why and let the old run go on."""
        from ipcviz.scenario.load import ScenarioError, load_opened
        from ipcviz.scenario.opening import open_scenario

        old = self.app.source
        if not isinstance(old, LiveSource):
            return
        name = old.opened.name if old.opened is not None else old.path
        try:
            opened = open_scenario(name)
            scenario = load_opened(opened)
        except ScenarioError as exc:
            self._show_problems(name, exc.lines)
            return
        refusal = exec_refusal(scenario.model, scenario.bundled, old.allow_exec)
        if refusal:
            self._show_problems(name, [f"{name}: {refusal}"])
            return
        if _programs_changed(old, scenario):
            self.app.push_screen(
                ConfirmProgramsScreen(name, program_lines(scenario)),
                lambda yes: self.restart_on(old, opened) if yes else self.app.notify(
                    "kept the old run: the new programs were not started", timeout=4,
                    markup=False))
            return
        self.restart_on(old, opened)

    def _show_problems(self, name: str, lines: list[str]) -> None:
        from ipcviz.tui.screens import ProblemsScreen

        self.app.push_screen(ProblemsScreen(name, lines))

    def restart_on(self, old: LiveSource, opened: OpenedScenario) -> None:
        """Stop the old run and start one on `opened`, once the notice is drawn."""
        self.app.notify("restarting: stopping the run and removing its objects…", timeout=3,
                        markup=False)
        self.app.set_timer(RESTART_DELAY, lambda: self.restart_from(old, opened))

    def restart_from(self, old: LiveSource, opened: OpenedScenario) -> None:
        """Stop the `old` run and start a new one on `opened` (once: pressed twice, the
        second finds the first's new run and does nothing)."""
        from ipcviz.tui.widgets.events import EventLog

        app = self.app
        if app.source is not old:
            return
        old.stop()
        fresh = LiveSource(opened, old.speed, old.allow_exec, old.held)
        app.latest = None
        app.query_one(EventLog).clear()
        app.start_source(fresh)
        self.restarted(fresh)
        app.notify("restarted from the beginning", timeout=2, markup=False)


def _programs_changed(old: LiveSource, new: LoadedScenario) -> bool:
    """Whether `new` would start programs the running version does not: a bundled
    scenario's own programs may always run (as at launch)."""
    from ipcviz.scenario.load import ScenarioError, load_opened

    if not programs(new.model) or new.bundled:
        return False
    if old.opened is None:
        return True
    try:
        running = load_opened(old.opened)
    except ScenarioError:
        return True
    return programs_key(running) != programs_key(new)
