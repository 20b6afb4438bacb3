"""The scenario's YAML beside the panels (`v`): syntax-highlighted, each worker's current
step marked with the worker's name, and the timeline entries still to come with how soon.
It renders a Snapshot plus the file's text and positions (read once when opened)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ipcviz.format import escape_control
from ipcviz.telemetry.snapshot import Snapshot

if TYPE_CHECKING:
    from ipcviz.scenario.yamlpos import Document

#: upcoming timeline entries listed
UPCOMING = 6


class ScenarioSource:
    """A scenario file's text, and where its steps and timeline entries are written."""

    def __init__(self, path: str, raw: bytes | None = None):
        """`raw`: the bytes the run was started on (read from `path` when not given)."""
        from ipcviz.scenario.yamlpos import YamlError, load_document

        if raw is None:
            with open(path, "rb") as fh:
                raw = fh.read(1 << 20)
        self.path = path
        # the file's own characters, control ones shown as \x1b (never sent to the terminal)
        self.text = escape_control(raw.decode("utf-8", errors="replace"), keep_newlines=True)
        self.document: Document | None
        try:
            self.document = load_document(raw)
        except YamlError:
            self.document = None
        data = self.document.data if self.document is not None else {}
        self.timeline = data.get("timeline", []) if isinstance(data, dict) else []

    def step_line(self, group: str, step: int) -> int | None:
        """The line a worker definition's top-level step `step` is written on."""
        if self.document is None:
            return None
        path = ("workers", group, "steps", step)
        if path not in self.document.positions:
            return None
        return self.document.positions[path][0]

    def timeline_line(self, index: int) -> int | None:
        if self.document is None:
            return None
        return self.document.positions.get(("timeline", index), (None,))[0]


def source_lines(source: ScenarioSource, snap: Snapshot | None) -> list[Text]:
    """What the timeline does next, then the file's lines, numbered, with a marker and
    the workers' names on the line of each worker's current step."""
    marks: dict[int, list[str]] = {}
    if snap is not None:
        for w in snap.workers:
            if w.state in ("exited", "zombie") or w.parent:
                continue
            step_line = source.step_line(w.group, w.step)
            if step_line is not None:
                marks.setdefault(step_line, []).append(w.name)
    code = source.text.expandtabs(4)
    highlighted = Syntax(code, "yaml", theme="ansi_dark").highlight(code)
    out = []
    for number, line in enumerate(highlighted.split("\n", allow_blank=True), 1):
        names = marks.get(number)
        gutter = Text(f"{number:>3} ", style="dim")
        if names:
            gutter = Text(f"{number:>3}▶", style="bold reverse yellow")
            line = line.copy()
            line.append(f"   ◀ {', '.join(names)}", style="bold yellow")
        row = gutter + line
        row.no_wrap, row.overflow = True, "ellipsis"  # a long line is cut, never wrapped
        out.append(row)
    coming = upcoming(source, snap)  # first: a long file would push it off the screen
    return coming[1:] + [Text("")] + out if coming else out


def upcoming(source: ScenarioSource, snap: Snapshot | None) -> list[Text]:
    """"in 2.3 s: signal SIGUSR1 -> standard" for the next timeline entries."""
    if snap is None or not source.timeline:
        return []
    now = snap.run_time if snap.run_time is not None else snap.elapsed
    coming = []
    for i, entry in enumerate(source.timeline):
        if not isinstance(entry, dict) or not isinstance(entry.get("at"), (int, float)):
            continue
        if entry["at"] < now:
            continue
        action = next((k for k in entry if k != "at"), "?")
        arg = entry.get(action)
        if isinstance(arg, dict):
            words = ", ".join(f"{k} {v}" for k, v in arg.items())
        else:
            words = str(arg)
        coming.append((entry["at"], i, f"{action}: {words}"))
    coming.sort()
    lines = [Text("")]
    lines.append(Text("timeline to come:" if coming else "timeline: nothing left to come",
                      style="bold underline"))
    for at, i, words in coming[:UPCOMING]:
        where = source.timeline_line(i)
        text = Text(f" in {at - now:5.1f} s", style="bold cyan")
        text.append(f"  {escape_control(words)}")
        if where:
            text.append(f"  (line {where})", style="dim")
        lines.append(text)
    return lines


class SourceView(Static):
    """Hidden until `v`; shows `source` with the latest Snapshot's positions."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source: ScenarioSource | None = None
        self._key: object = None

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if self.source is None or not self.display:
            return
        now = None if snap is None else int(
            (snap.run_time if snap.run_time is not None else snap.elapsed) * 10)
        key = (now, None if snap is None else tuple(
            (w.name, w.step, w.state) for w in snap.workers))
        if key == self._key:
            return
        self._key = key
        text = Text("\n").join(source_lines(self.source, snap))
        text.no_wrap, text.overflow = True, "ellipsis"
        self.update(text)
