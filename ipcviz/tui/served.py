"""The app as a browser tab gets it from `ipcviz serve`: a sandbox.

Whoever presses keys in the browser is not the person who started the server, and every
process the session starts runs as that person. So nothing pressed here may start a
program of the browser's choosing, open an editor (vi's `:!sh` is a shell), read or
write a path, or run `exec:` workers the server did not allow:
- `e` (the editor) is refused with one line, and so are Textual's own screenshot (it
  writes a file), suspend and command palette actions;
- the scenario file is never read again: no watch on it, and ctrl+r reruns the bytes
  that were checked when the lesson was opened;
- the picker lists only what the server serves (serve/policy.py), and each choice is
  checked against the policy (programs, process count) before anything starts;
- each run is stopped after the policy's `max_run` seconds, so one tab cannot hold
  processes for ever; `q` always goes back to the picker, `q` there ends the session.
"""

from __future__ import annotations

from pathlib import Path

from textual.timer import Timer

from ipcviz.format import escape_control
from ipcviz.serve.policy import ServedPolicy
from ipcviz.tui.app import IpcvizApp
from ipcviz.tui.reload import Reloader
from ipcviz.tui.screens import PickerScreen
from ipcviz.tui.source import LiveSource, Source

#: the line every refused key shows
REFUSED = "not in a served session: {what} would run on the server, as its user"


class CheckedBytesReloader(Reloader):
    """ctrl+r in a served session: the same checked bytes again, never the file as it is
    now."""

    def reload_scenario(self) -> None:
        old = self.app.source
        if isinstance(old, LiveSource) and old.opened is not None:
            self.restart_on(old, old.opened)


class ServedApp(IpcvizApp):
    """IpcvizApp with the keys that reach the server's programs or files refused."""

    reloader_class = CheckedBytesReloader
    #: the file is never looked at again: what runs is what was checked
    watches_file = False

    def __init__(self, policy: ServedPolicy, lesson: Path | None = None,
                 source: LiveSource | None = None):
        super().__init__(source=None, handle_signals=True)
        self.policy = policy
        #: the lesson the tab's URL named: opened first, instead of the picker
        self._first_lesson = lesson
        #: its run, already started on bytes checked against the policy (session.py)
        self._first_source = source
        self._run_cap: Timer | None = None

    # ------------------------------------------------------------ what may run

    def _open_picker(self) -> None:
        lesson, self._first_lesson = self._first_lesson, None
        source, self._first_source = self._first_source, None
        if source is not None:
            self.from_picker = True
            self.start_source(source)
            return
        if lesson is not None:
            self._picked(lesson)
            return
        from ipcviz.scenario.load import ScenarioError, load_scenario

        entries = []
        for path in self.policy.lessons().values():
            try:
                scenario = load_scenario(path)
            except ScenarioError:
                continue
            entries.append((path, scenario.name, scenario.model.description))
        self.push_screen(PickerScreen(entries), self._picked)

    def _picked(self, path: Path | None) -> None:
        """Open a served lesson: read once, loaded, checked against the policy; refused
        with one line (and the picker again) when it may not run here."""
        from ipcviz.scenario.load import ScenarioError, load_opened
        from ipcviz.scenario.opening import open_scenario

        if path is None:
            return
        try:
            opened = open_scenario(str(path))
            refusal = self.policy.refusal(load_opened(opened))
        except ScenarioError as exc:
            refusal = exc.lines[0] if exc.lines else "does not load"
        if refusal is not None:
            self.notify(escape_control(f"{path.stem}: {refusal}"), severity="error",
                        timeout=10, markup=False)
            self._open_picker()
            return
        self.from_picker = True  # `q` goes back to the picker, whatever opened the run
        self.start_source(LiveSource(opened, None, self.policy.allow_exec, held=True))

    def start_source(self, source: Source) -> None:
        """Every run (a lesson, ctrl+r) ends after the policy's max_run seconds."""
        super().start_source(source)
        if self._run_cap is not None:
            self._run_cap.stop()
        self._run_cap = self.set_timer(self.policy.max_run, lambda: self._end_run(source))

    async def _end_run(self, source: object) -> None:
        if self.source is not source:
            return
        self.notify(f"this run reached the served time limit ({self.policy.max_run:g} s) "
                    "and was stopped", timeout=10, markup=False)
        await self.action_quit()

    # ------------------------------------------------------------ refused keys

    def _refuse(self, what: str) -> None:
        self.notify(REFUSED.format(what=what), severity="warning", timeout=5, markup=False)

    def action_edit_source(self) -> None:
        if self.trigger_owns("e"):
            return
        self._refuse("an editor")

    def action_screenshot(self, filename: str | None = None,
                          path: str | None = None) -> None:
        self._refuse("a screenshot file")

    def action_suspend_process(self) -> None:
        self._refuse("suspending the session")

    def action_command_palette(self) -> None:
        self._refuse("the command palette")


def make_served_app(policy: ServedPolicy, lesson: Path | None = None,
                    source: LiveSource | None = None) -> ServedApp:
    """The one factory the session process and the tests use."""
    return ServedApp(policy, lesson, source)
