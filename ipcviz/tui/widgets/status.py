"""Top line: scenario, elapsed time, running/ended, and the lesson text."""

from __future__ import annotations

import textwrap
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from ipcviz.format import format_duration, speed_text
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.telemetry.moved import moved_workers
from ipcviz.tui.widgets.base import FrameStyle


#: the header's words for a held run (the run clock stands still meanwhile)
HELD_WORDS = {"pause": "PAUSED", "step": "PAUSED: STEPPING",
              "schedule": "SCHEDULE"}


class StatusBar(Widget):
    """One line: `ipcviz │ Pipe two-way │ 12.3 s │ running`, drawn through the line API
    (its clock changes every frame: a Static's content pipeline cost 1.3 ms a frame for
    this one line), cut with an ellipsis where the screen ends."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; the bar redraws when it changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # before Widget's own __init__, which may already tell of a style update
        self.frame_style = FrameStyle(self)
        super().__init__(*args, **kwargs)
        #: the run clock when every worker had ended: the clock stops there
        self._ended_at: float | None = None
        #: the line on screen (an unchanged one is not drawn again) and its strip
        self._shown: Text = Text()
        self._strip: Strip | None = None
        #: the last Snapshot counted, and per place in its workers: alive, paused
        self._counted: Snapshot | None = None
        self._alive: list[bool] = []
        self._paused: list[bool] = []

    def on_resize(self) -> None:
        self.watch_snapshot(self.snapshot)  # the line is fitted to the width

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        width = self.size.width
        text = self._line(snap)
        if width and text.cell_len > width and snap is not None and snap.replay is None:
            # too wide: the title goes first (the lesson text below names the lesson), then the
            # longer words, so the clock and the workers alive stay on screen
            bare = self._line(snap, title_room=0)
            room = width - bare.cell_len - 2
            text = self._line(snap, title_room=room) if room >= 8 else bare
            if text.cell_len > width:
                text = self._line(snap, title_room=0, short=True)
        if text != self._shown:  # an unchanged line costs nothing; a repaint of the top
            # line made every frame repaint the whole screen (Textual's compositor paints
            # every widget inside the box around the changed lines)
            self._shown, self._strip = text, None
            self.frame_style.new_frame()
            self.refresh()

    def _counts(self, snap: Snapshot) -> tuple[int, int]:
        """Workers alive and workers paused in `snap`, each worker looked at again only
        when its view is a new object since the last Snapshot counted (moved.py)."""
        moved = moved_workers(self._counted, snap)
        workers = snap.workers
        if moved is None:
            self._alive = [w.state not in ("exited", "zombie") for w in workers]
            self._paused = [w.paused for w in workers]
        for i in moved or ():
            self._alive[i] = workers[i].state not in ("exited", "zombie")
            self._paused[i] = workers[i].paused
        self._counted = snap
        return sum(self._alive), sum(self._paused)

    def _line(self, snap: Snapshot | None, title_room: int | None = None,
              short: bool = False) -> Text:
        """The line for `snap`: the title cut to `title_room` cells (0: left out), and
        with `short`, the held words and the workers alive said briefly."""
        text = Text(" ipcviz ", style="bold reverse")
        if snap is None:
            self._ended_at = None
            text.append("  starting…")
        elif snap.replay is not None:
            self._replay(text, snap)
        else:
            alive, paused = self._counts(snap)
            # a held run and slow motion first, where no width of terminal cuts them off
            if snap.held_start and snap.running:  # nothing has moved: say how to start
                text.append(" ")
                text.append(" HELD: space runs, n steps " if short else
                            " HELD: press space to run, n to step ", style="bold reverse yellow")
            elif snap.mode != "run" and snap.running:
                text.append(" ")
                text.append(f" {HELD_WORDS.get(snap.mode, snap.mode.upper())} ",
                            style="bold reverse yellow")
            if speed_text(snap.speed):
                text.append(" ")
                text.append(f" {speed_text(snap.speed)} ", style="bold reverse cyan")
            title = Text(snap.scenario, style="bold")
            if title_room is not None and title_room <= 0:
                title = Text()
            elif title_room is not None:
                title.truncate(title_room, overflow="ellipsis")
            text.append("  ")
            if title.cell_len:
                text.append_text(title)
                text.append("  ")
            clock = snap.elapsed if snap.run_time is None else snap.run_time
            if snap.running:
                self._ended_at = None
            elif self._ended_at is None or clock < self._ended_at:
                self._ended_at = clock
            shown = self._ended_at if not snap.running and self._ended_at is not None \
                else clock
            if (snap.steps or snap.schedule_length) and (
                    snap.mode != "run" or (snap.run_time or 0) < 0.05):
                # stepped or scheduled, the run clock stands still: the step count moves
                total = snap.schedule_length if snap.steps <= snap.schedule_length else 0
                text.append(f"│ step {snap.steps}{f'/{total}' if total else ''} ")
            else:
                text.append(f"│ {format_duration(shown)} ")
            if snap.running and snap.run_time is not None and abs(
                    snap.elapsed - snap.run_time) >= 0.5:
                # the run clock stood still (paused, a schedule) or ran slow; the event log
                # counts in it too, and the wall clock is said here
                text.append(f"(wall {format_duration(snap.elapsed)}) ", style="dim")
            text.append("│ ")
            if snap.running:
                text.append(f"{alive}/{len(snap.workers)} alive" if short else
                            f"running: {alive}/{len(snap.workers)} workers alive", style="green")
            else:
                text.append("ended: every worker has exited (q quits)", style="yellow")
            if paused:
                text.append(f" │ {paused} paused", style="magenta")
            if snap.dropped_events:
                text.append(f" │ {snap.dropped_events} events dropped", style="red")
        return text

    def render(self) -> Text:
        """The line's text (what `render_line` draws)."""
        return self._shown

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0:
            return Strip.blank(width, self.frame_style.get())
        strip = self._strip
        if strip is None or strip.cell_length != width:
            line = self._shown
            if line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            base = self.frame_style.get()
            # (equal neighbours merged, as a Static's content does: the same picture)
            segments = Segment.simplify(Segment.apply_style(line.render(self.app.console), base))
            strip = self._strip = Strip(segments).crop_extend(0, width, base)
        return strip

    def notify_style_update(self) -> None:
        self.frame_style.new_frame()
        self.forget_lines()
        super().notify_style_update()

    def forget_lines(self) -> None:
        """Drop the line drawn (it carries the old style)."""
        self._strip = None


    @staticmethod
    def _replay(text: Text, snap: Snapshot) -> None:
        """REPLAY, where in the recording, its pace; at the end, "end of recording"."""
        info = snap.replay or {}
        text.append(" ")
        text.append(" REPLAY ", style="bold reverse magenta")
        if info.get("paused"):
            text.append(" ")
            text.append(" PAUSED ", style="bold reverse yellow")
        if info.get("speed", 1) != 1:
            text.append(f"  ×{info['speed']:g}", style="bold cyan")
        text.append(f"  {snap.scenario}  ", style="bold")
        text.append(f"│ {format_duration(info.get('position', 0))} / "
                    f"{format_duration(info.get('length', 0))} "
                    f"(frame {info.get('frame', 0)}/{info.get('frames', 0)}) │ ")
        if info.get("ended"):
            text.append("end of recording", style="bold yellow")
        else:
            text.append("←/→ frame, shift ±1 s", style="dim")


class LessonText(Static):
    """The scenario's description: what to watch for."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot (only its description is used)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key: tuple | None = None

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        self._draw(snap)

    def on_resize(self) -> None:
        self._draw(self.snapshot)

    def _draw(self, snap: Snapshot | None) -> None:
        text = " ".join((snap.description if snap else "").split())
        keys = tuple(snap.triggers) if snap else ()
        narrow = self.app.has_class("narrow")
        width = max(20, self.content_region.width or self.app.size.width - 2)
        key = (text, keys, narrow, width)
        if key == self._key:
            return
        self._key = key
        self.update(lesson_lines(text, keys, width, 2 if narrow else 4))


def lesson_lines(text: str, keys: tuple[tuple[str, str], ...], width: int,
                 room: int) -> Text:
    """The scenario's keys (its triggers: the lesson's own actions, which the footer may
    have no room for) on a line of their own, then the description in what is left of
    `room` lines, cut at a word with "… (v: all of it)" when it does not fit. The
    scenario's own words, never read as markup."""
    out = Text()
    if keys:
        out.append("keys of this lesson: ", style="bold")
        for i, (key, label) in enumerate(keys):
            if i:
                out.append("  ·  ")
            out.append(key, style="bold reverse")
            out.append(f" {label}")
        out.truncate(width, overflow="ellipsis")
        room -= 1
    if text and room > 0:
        lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
        if len(lines) > room:
            tail = " … (v: all of it)"
            lines = lines[:room]
            last = lines[-1]
            while last and len(last) + len(tail) > width:
                last = last[:last.rfind(" ")] if " " in last else last[:-1]
            lines[-1] = last + tail
        if keys:
            out.append("\n")
        out.append("\n".join(lines))
    return out
