"""Keys for writing scenarios from inside the app: `v` shows the scenario's YAML beside
the panels, `e` opens it in $EDITOR; when the file changes (the editor exits, or it is
saved from another window) it is checked at once and, if it loads, the run restarts with
it; if not, its problems are shown with their lines and the old run goes on."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import TYPE_CHECKING

from ipcviz.tui.source import LiveSource, Source

if TYPE_CHECKING:
    from ipcviz.tui.live_view import LiveView
    from ipcviz.tui.reload import Reloader
    from ipcviz.tui.widgets.source_view import SourceView


#: how often the file's modification time is looked at while the app runs
WATCH_INTERVAL = 1.0


class AuthoringKeys:
    """`v`, `e`, and the watch on the scenario file."""

    def __init__(self, app: LiveView, reloader: Reloader) -> None:
        self.app = app
        self.reloader = reloader
        #: the file watched and its modification time when last looked at
        self.watched: tuple[str, float] | None = None

    def _live_source(self) -> LiveSource | None:
        source = self.app.source
        return source if isinstance(source, LiveSource) else None

    def view_source(self) -> None:
        """`v`: the YAML beside the panels, or hidden again."""
        from ipcviz.tui.widgets.source_view import ScenarioSource, SourceView

        if self.app.trigger_owns("v"):
            return
        view = self.app.query_one(SourceView)
        if view.display:
            view.display = False
            return
        source = self._live_source()
        if source is None:
            self.app.notify("no scenario file here (a replay or fixed frames)", timeout=3)
            return
        path, opened = source.path, source.opened
        try:  # the bytes that run, not what the path names now
            view.source = ScenarioSource(path, opened.raw if opened is not None else None)
        except OSError as exc:
            self.app.notify(f"cannot read {path}: {exc.strerror}", timeout=3, markup=False)
            return
        view.display = True
        view._key = None
        view.watch_snapshot(self.app.latest)

    def edit_source(self) -> None:
        """`e`: $EDITOR on the scenario file (your own files: a bundled one is copied
        first with `ipcviz new FILE --from NAME`)."""
        if self.app.trigger_owns("e"):
            return
        source = self._live_source()
        if source is None:
            return
        path, opened = source.path, source.opened
        if opened is not None and opened.bundled is not None:
            name = os.path.splitext(os.path.basename(opened.bundled))[0]
            self.app.notify(f"bundled scenario: copy it with `ipcviz new my_{name}.yaml --from "
                            f"{name}` and edit the copy", timeout=6, markup=False)
            return
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        from textual.app import SuspendNotSupported

        try:
            with self.app.suspend():
                subprocess.run([*editor, path], check=False)
        except SuspendNotSupported:  # no terminal to hand over (tests): run it as it is
            subprocess.run([*editor, path], check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.app.notify(f"cannot start the editor {editor[0]!r}: {exc.strerror}",
                            timeout=5, markup=False)
            return
        self.file_changed(path)

    # ------------------------------------------------------------ the file changed

    def watch_file(self) -> None:
        """Called every WATCH_INTERVAL: a new modification time means a new version."""
        source = self._live_source()
        if source is None:
            return
        path = source.path
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return
        if self.watched is None or self.watched[0] != path:
            self.watched = (path, mtime)
            return
        if mtime != self.watched[1]:
            self.file_changed(path)

    def file_changed(self, path: str) -> None:
        """A new version: read it once, check it and restart on it (reload.py), or show
        why not while the old run goes on."""
        from ipcviz.tui.reload import ConfirmProgramsScreen
        from ipcviz.tui.screens import ProblemsScreen

        try:
            self.watched = (path, os.stat(path).st_mtime)
        except OSError:
            pass
        # the last version's problems, or its programs still waiting for a yes
        while isinstance(self.app.screen, (ProblemsScreen, ConfirmProgramsScreen)):
            self.app.pop_screen()
        self.reloader.reload_scenario()

    def source_view_follows(self, source: Source) -> None:
        """After a restart, `v` shows the bytes the new run runs."""
        opened = source.opened if isinstance(source, LiveSource) else None
        view = self._source_view()
        if opened is not None and view is not None and view.display:
            from ipcviz.tui.widgets.source_view import ScenarioSource

            view.source = ScenarioSource(opened.path, opened.raw)
            view._key = None

    def _source_view(self) -> SourceView | None:
        from ipcviz.tui.widgets.source_view import SourceView

        found = self.app.query(SourceView)
        return found.first() if found else None
