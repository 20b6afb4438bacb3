"""Keys for writing scenarios from inside the app (a mixin of the App): `v` shows the
scenario's YAML beside the panels, `e` opens it in $EDITOR; when the file changes (the
editor exits, or it is saved from another window) it is checked at once and, if it
loads, the run restarts with it; if not, its problems are shown with their lines and the
old run goes on."""

from __future__ import annotations

import os
import shlex
import subprocess


#: how often the file's modification time is looked at while the app runs
WATCH_INTERVAL = 1.0


class AuthoringKeys:
    """Mixin of IpcvizApp: `v`, `e`, and the watch on the scenario file."""

    _trigger_keys: set[str]
    _watched: tuple[str, float] | None = None

    def _scenario_path(self) -> str | None:
        return getattr(getattr(self, "source", None), "path", None)

    def action_view_source(self) -> None:
        """`v`: the YAML beside the panels, or hidden again."""
        from ipcviz.tui.widgets.source_view import ScenarioSource, SourceView

        if self._trigger_has("v"):  # type: ignore[attr-defined]
            return
        view = self.query_one(SourceView)  # type: ignore[attr-defined]
        if view.display:
            view.display = False
            return
        path = self._scenario_path()
        if path is None:
            self.notify("no scenario file here (a replay or fixed frames)", timeout=3)  # type: ignore[attr-defined]
            return
        opened = getattr(self.source, "opened", None)  # type: ignore[attr-defined]
        try:  # the bytes that run, not what the path names now
            view.source = ScenarioSource(path, opened.raw if opened is not None else None)
        except OSError as exc:
            self.notify(f"cannot read {path}: {exc.strerror}", timeout=3, markup=False)  # type: ignore[attr-defined]
            return
        view.display = True
        view._key = None
        view.watch_snapshot(self.latest)  # type: ignore[attr-defined]

    def action_edit_source(self) -> None:
        """`e`: $EDITOR on the scenario file (your own files: a bundled one is copied
        first with `ipcviz new FILE --from NAME`)."""
        if self._trigger_has("e"):  # type: ignore[attr-defined]
            return
        path = self._scenario_path()
        if path is None:
            return
        opened = getattr(self.source, "opened", None)  # type: ignore[attr-defined]
        if opened is not None and opened.is_bundled:
            name = os.path.splitext(os.path.basename(opened.bundled))[0]
            self.notify(f"bundled scenario: copy it with `ipcviz new my_{name}.yaml --from "  # type: ignore[attr-defined]
                        f"{name}` and edit the copy", timeout=6, markup=False)
            return
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        from textual.app import SuspendNotSupported

        try:
            with self.suspend():  # type: ignore[attr-defined]
                subprocess.run([*editor, path], check=False)
        except SuspendNotSupported:  # no terminal to hand over (tests): run it as it is
            subprocess.run([*editor, path], check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.notify(f"cannot start the editor {editor[0]!r}: {exc.strerror}", timeout=5,  # type: ignore[attr-defined]
                        markup=False)
            return
        self._file_changed(path)

    # ------------------------------------------------------------ the file changed

    def _watch_file(self) -> None:
        """Called every WATCH_INTERVAL: a new modification time means a new version."""
        path = self._scenario_path()
        if path is None:
            return
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return
        if self._watched is None or self._watched[0] != path:
            self._watched = (path, mtime)
            return
        if mtime != self._watched[1]:
            self._file_changed(path)

    def _file_changed(self, path: str) -> None:
        """A new version: read it once, check it and restart on it (reload.py), or show
        why not while the old run goes on."""
        from ipcviz.tui.reload import ConfirmProgramsScreen
        from ipcviz.tui.screens import ProblemsScreen

        try:
            self._watched = (path, os.stat(path).st_mtime)
        except OSError:
            pass
        # the last version's problems, or its programs still waiting for a yes
        while isinstance(self.screen, (ProblemsScreen, ConfirmProgramsScreen)):  # type: ignore[attr-defined]
            self.pop_screen()  # type: ignore[attr-defined]
        self._reload_scenario()  # type: ignore[attr-defined]

    def _source_view_follows(self, source: object) -> None:
        """After a restart, `v` shows the bytes the new run runs."""
        opened = getattr(source, "opened", None)
        view = self._source_view()
        if opened is not None and view is not None and view.display:
            from ipcviz.tui.widgets.source_view import ScenarioSource

            view.source = ScenarioSource(opened.path, opened.raw)
            view._key = None

    def _source_view(self):
        from ipcviz.tui.widgets.source_view import SourceView

        found = self.query(SourceView)  # type: ignore[attr-defined]
        return found.first() if found else None
