"""The workers table: name, pid, state (what it is blocked on), cpu, restarts, signals."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ipcviz.format import format_counts, format_state, waiting_text
from ipcviz.telemetry.snapshot import Snapshot, WorkerView
from ipcviz.telemetry.views import SemaphoreView
from ipcviz.tui.widgets.base import FrameStyle
from ipcviz.tui.widgets.grid import cells_line
from ipcviz.tui.widgets.worker_columns import (COLUMNS, HELD_COLUMNS, column_widths, held,
                                               signals_cell)
from ipcviz.telemetry.moved import moved_workers

_STATE_STYLE = {"running": "green", "sleeping": "", "held": "", "blocked": "bold yellow",
                "stopped": "bold magenta", "zombie": "bold red", "exited": "dim",
                "starting": "dim"}


def state_cell(w: WorkerView, snap: Snapshot) -> Text:
    style = _STATE_STYLE.get(w.state, "")
    if w.state == "exited" and isinstance(w.exit, str):
        style = "bold red"
    waiting = waiting_text(*w.waiting) if w.waiting else None
    text = format_state(w.state, waiting, w.exit_text, w.paused)
    if w.state == "held" and w.paused:  # at its step boundary: its own `p`
        text = "paused (steps)"  # as format_state words a paused worker
    elif not w.paused and (w.state == "held" or w.next_op is not None
                           and w.state in ("sleeping", "running")):  # (older recordings)
        text = "held: waits for its step"  # at its step boundary (space, n, a schedule)
    if w.state == "blocked" and w.waiting and w.waiting.op == "acquire":
        sem = snap.channel(w.waiting.on or "")
        view = SemaphoreView.of(sem) if sem else None
        holders = view.holders if view else ()
        names = [h.name if h.alive else f"dead {h.name}" for h in holders
                 if h.name != w.name or not h.alive]
        text = f"waiting for {sem.name if sem else '?'}" + (
            f" (held by {', '.join(names)})" if names else "")
        if sem and view and view.holds(w.name):  # holders are read after its state
            if view.initial == 1:  # a mutex it holds: it got it since it was seen waiting
                text, style = f"acquired {sem.name}", ""
            else:  # a counting semaphore: it may hold one unit and wait for another
                text += " (it holds one already)"
        elif view and view.handoff and not names:  # nobody holds it: a turn passed along
            text = f"waiting for its turn on {sem.name if sem else '?'}"
    if w.lock_off:
        text += " [lock OFF]"
    if w.zombies or w.name in snap.parent_names:  # a parent: how many children it left unreaped
        # first: the count is the lesson, and a narrow state column cuts the end
        text = f"{w.zombies} zombie{'' if w.zombies == 1 else 's'} · {text}"
    return Text(text, style=style)


def row_key(w: WorkerView, snap: Snapshot) -> tuple:
    """Everything a worker's row shows, as plain values: equal keys draw equal rows."""
    holders: tuple = ()
    if w.state == "blocked" and w.waiting and w.waiting.op == "acquire":
        sem = snap.channel(w.waiting.on or "")
        holders = SemaphoreView.of(sem).holders if sem else ("?",)
    return (w.name, w.parent, w.pid, w.state, w.waiting, w.exit_text, w.exit, w.paused,
            w.lock_off, holders, w.zombies, w.name in snap.parent_names, f"{w.cpu:5.1f}", w.restarts, w.step_text,
            tuple(w.signals_received.items()), held(snap) and w.next_op)


def middle_cut(name: str, width: int) -> str:
    """`name` in `width` cells, cut in the middle so that names differing at the end stay
    different: "handler#0" in 8 is "hand…r#0", "handler#1" "hand…r#1"."""
    if len(name) <= width:
        return name
    if width < 3:
        return name[:max(0, width - 1)] + "…"
    keep = width - 1
    return name[:(keep + 1) // 2] + "…" + name[len(name) - keep // 2:]


def row_cells(w: WorkerView, snap: Snapshot, name_width: int | None = None,
              signals_width: int = 80) -> tuple[Text | str, ...]:
    """A worker's cells; a name longer than `name_width` is cut in the middle (its
    parent left out), where an end cut made two children look the same; signal counts
    wider than `signals_width` are named short."""
    if name_width is not None and len(w.name) > name_width:
        name = Text(middle_cut(w.name, name_width), style="bold")
    else:
        name = Text(w.name + (" " if w.parent else ""), style="bold")
        if w.parent:
            name.append(f"← {w.parent}", style="dim")
    return (
        name,
        str(w.pid or "-"),
        state_cell(w, snap),
        f"{w.cpu:5.1f}" if w.state not in ("exited", "zombie") else "",
        str(w.restarts),
        w.step_text if w.state not in ("exited",) else "",
        next_cell(w) if held(snap) else signals_cell(w.signals_received, signals_width),
    )


def next_cell(w: WorkerView) -> Text:
    """"load counter[0]" for a held worker; for one blocked in the kernel, that it cannot
    take a step until the call returns; for one asleep, that its sleep is run time (it
    stands still with the held run); empty otherwise."""
    if w.next_op is None:
        if w.state == "blocked":
            return Text("- (blocked: no step until it returns)", style="dim")
        if w.state == "sleeping" and w.step_text == "sleep":
            return Text("- (asleep: space runs it)", style="dim")
        return Text("")
    return Text(w.next_op.detail, style="bold cyan")


def row_text(cells: tuple[Text | str, ...], widths: tuple[int, ...]) -> Text:
    """A row's cells as one Text (grid.py's way), each cell's style covering its padding:
    a Text per cell, copied, cut and appended, was most of a repaint when every row
    changes (a pause: each row says what its worker does next)."""
    return cells_line([Text(c) if isinstance(c, str) else c for c in cells], widths,
                      style_pads=True)


#: the table's height: at least this many lines, at most this share of the screen
MIN_ROWS = 4
MAX_SHARE = 0.4


class WorkersTable(ScrollView, can_focus=True):
    """One row per worker process; the cursor row is the selected worker.

    Drawn line by line (Textual's line API): a Snapshot refreshes only the rows whose
    content changed, and only rows on screen are ever rendered, so a frame costs the same
    with 8 workers or 256 (a DataTable re-rendered every visible cell on any change).
    """

    COMPONENT_CLASSES = {"workers--header", "workers--cursor", "workers--even-row"}

    DEFAULT_CSS = """
    WorkersTable {
        background: $surface;
        color: $foreground;
        & > .workers--header { text-style: bold; background: $panel; color: $foreground; }
        & > .workers--even-row { background: $surface-lighten-1 50%; }
        &:dark > .workers--even-row { background: $surface-darken-1 40%; }
        & > .workers--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .workers--header { background-tint: $foreground 5%; }
            & > .workers--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "cursor(-1000000)", "first", show=False),
        Binding("end", "cursor(1000000)", "last", show=False),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; only rows whose content changed are redrawn."""

    cursor_row: reactive[int] = reactive(0, repaint=False)
    """Index of the selected row."""

    def __init__(self, **kwargs: Any) -> None:
        # before ScrollView's own __init__, which may already tell of a style update
        self.frame_style = FrameStyle(self)
        super().__init__(**kwargs)
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._keys: dict[str, tuple] = {}
        self._views: dict[str, WorkerView] = {}
        self._snap: Snapshot | None = None
        #: places in the last Snapshot's workers of those waiting for a semaphore
        self._acquiring: set[int] = set()
        self._strips: dict[tuple, Strip] = {}
        self._widths = column_widths(120)
        #: the widest signal counts seen this run, in cells (full names)
        self._signals_need = 0

    def _fit_widths(self) -> bool:
        """Share the screen's width out again; whether any column's width changed."""
        widths = column_widths(self.app.size.width, held(self._snap), self._signals_need)
        changed, self._widths = widths != self._widths, widths
        return changed

    def on_mount(self) -> None:
        self._fit_widths()

    def on_resize(self) -> None:
        self._fit_widths()
        self._strips.clear()
        self._update_virtual_size()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self._names)

    def forget_run(self) -> None:
        """A new run starts in this app (the picker, `q`, another lesson): the last run's
        rows go (they stayed, above the new run's workers, with their last states)."""
        self._names.clear()
        self._index.clear()
        self._keys.clear()
        self._views.clear()
        self._strips.clear()
        self._snap = None
        self._signals_need = 0
        self.cursor_row = 0
        self._update_virtual_size()
        self.refresh()

    @property
    def selected_worker(self) -> str | None:
        """Name of the worker under the cursor."""
        if not self._names:
            return None
        return self._names[min(self.cursor_row, len(self._names) - 1)]

    # ------------------------------------------------------------ data

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        self.frame_style.new_frame()
        before, self._snap = self._snap, snap
        if held(snap) != held(before):  # the last column changes: title and widths
            self._fit_widths()
            self._strips.clear()
            self.refresh()
        workers = snap.workers
        added = False
        changed: list[int] = []
        # the rows to look at: every worker, or, when the frame-wide parts of a row are
        # the same, those whose view is a new object and those waiting for a semaphore
        moved = moved_workers(before, snap) if before is not None and held(before) == held(
            snap) and before.parent_names == snap.parent_names else None
        self._acquiring = set() if moved is None else self._acquiring
        for position in range(len(workers)) if moved is None else sorted(
                self._acquiring.union(moved)):
            w = workers[position]
            if w.state == "blocked" and w.waiting and w.waiting.op == "acquire":
                self._acquiring.add(position)  # its row shows the semaphore's holders
            else:
                self._acquiring.discard(position)
            key = row_key(w, snap)
            self._signals_need = max(self._signals_need, len(format_counts(
                w.signals_received)))
            self._views[w.name] = w
            index = self._index.get(w.name)
            if index is None:
                self._index[w.name] = len(self._names)
                self._names.append(w.name)
                self._keys[w.name] = key
                added = True
            elif self._keys[w.name] != key:
                self._keys[w.name] = key
                changed.append(index)
        if self._fit_widths():  # more signal counts than their column holds
            self._strips.clear()
            added = True  # every row is drawn again
        if added:
            self._update_virtual_size()
            self.refresh()
            return
        top, rows = self.scroll_offset.y, max(0, self.size.height - 1)
        for index in changed:
            if top <= index < top + rows:
                self.refresh_line(index + 1)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._names) + 1)
        self.fit_height()

    def fit_height(self) -> None:
        """The rows it has (a header and a line per worker), at least MIN_ROWS and at most
        MAX_SHARE of the screen: a few workers leave the room to the event log, 64 of
        them scroll instead of pushing the panels away (or being squeezed by them)."""
        screen = self.app.size.height or 24
        height = max(MIN_ROWS, min(len(self._names) + 1, int(screen * MAX_SHARE)))
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height

    # ------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._line(None, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._names):
            return Strip.blank(width, self.frame_style.get())
        return self._line(index, width)

    def _line(self, index: int | None, width: int) -> Strip:
        focused = self.has_focus
        if index is None:
            key: tuple = ("header", width, focused, held(self._snap))
        else:
            name = self._names[index]
            cursor = index == self.cursor_row
            key = (self._keys[name], width, cursor and (1 + focused), index % 2)
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        if len(self._strips) > 4096:
            self._strips.clear()
        base = self.frame_style.get()
        if index is None:
            cells: tuple[Text | str, ...] = HELD_COLUMNS if held(self._snap) else COLUMNS
            style = self.get_component_rich_style("workers--header")
            post = None
        else:
            assert self._snap is not None
            cells = row_cells(self._views[name], self._snap, self._widths[0], self._widths[-1])
            style = (self.get_component_rich_style("workers--even-row") if index % 2
                     else RichStyle())
            post = self.get_component_rich_style("workers--cursor") if cursor else None
        line = row_text(cells, self._widths)
        segments = list(line.render(self.app.console))
        segments = list(Segment.apply_style(segments, base + style, post))
        strip = Strip(segments).crop_extend(0, width, base + style + (post or RichStyle()))
        self._strips[key] = strip
        return strip

    # ------------------------------------------------------------ cursor

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_cursor()
        # and again once the layout is current: End right after the rows arrived was
        # clamped to the old height and virtual size (seen under load: it stayed at 0)
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self) -> None:
        top, rows = self.scroll_offset.y, max(1, self.size.height - 1)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self._names:
            self.cursor_row = max(0, min(len(self._names) - 1, self.cursor_row + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._names):
            self.cursor_row = index

    def on_focus(self) -> None:
        self.frame_style.new_frame()
        self.refresh()

    def on_blur(self) -> None:
        self.frame_style.new_frame()
        self.refresh()

    def notify_style_update(self) -> None:
        self.frame_style.new_frame()
        self.forget_lines()
        super().notify_style_update()

    def forget_lines(self) -> None:
        """Drop the lines drawn (they carry the old style)."""
        strips = getattr(self, "_strips", None)  # (styles are set up before __init__ ends)
        if strips:
            strips.clear()
