"""The workers table: name, pid, state (what it is blocked on), cpu, restarts, signals."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from ipcviz.format import format_counts, format_state
from ipcviz.telemetry.snapshot import Snapshot, WorkerView

COLUMNS = ("worker", "pid", "state", "cpu %", "restarts", "step", "signals received")


def column_widths(total: int) -> tuple[int, ...]:
    """Fixed widths that fit `total` cells (recomputing widths on every update is what
    makes a big table slow): the state column gets the most room."""
    fixed = {"pid": 7, "cpu %": 5, "restarts": 8, "step": 9}
    room = max(30, total - 2 * len(COLUMNS) - 2 - sum(fixed.values()))
    worker = max(8, min(18, room // 4))
    state = max(14, min(44, room - worker - 10))
    signals = max(10, room - worker - state)
    sizes = {**fixed, "worker": worker, "state": state, "signals received": signals}
    return tuple(sizes[c] for c in COLUMNS)
_STATE_STYLE = {"running": "green", "sleeping": "", "blocked": "bold yellow",
                "stopped": "bold magenta", "zombie": "bold red", "exited": "dim",
                "starting": "dim"}


def state_cell(w: WorkerView, snap: Snapshot) -> Text:
    style = _STATE_STYLE.get(w.state, "")
    if w.state == "exited" and isinstance(w.exit, str):
        style = "bold red"
    text = format_state(w.state, w.blocked_on, w.exit_text, w.paused)
    if w.state == "blocked" and w.blocked_on and w.blocked_on.startswith("acquire "):
        sem = snap.channel(w.blocked_on.split(" ", 1)[1])
        holders = sem.data.get("holders", []) if sem else []
        names = [f"dead worker {h[:-7]}" if h.endswith(" (dead)") else h for h in holders]
        text = f"waiting for {sem.name if sem else '?'}" + (
            f" (held by {', '.join(names)})" if names else "")
    if w.lock_off:
        text += " [lock OFF]"
    return Text(text, style=style)


class WorkersTable(DataTable):
    """One row per worker process; the cursor row is the selected worker."""

    snapshot: reactive[Snapshot | None] = reactive(None, layout=False, repaint=False)
    """The latest Snapshot; rows are updated in place so the cursor stays put."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._shown: dict[tuple[str, str], object] = {}
        for name, width in zip(COLUMNS, column_widths(self.app.size.width)):
            self.add_column(name, key=name, width=width)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None or not self.columns:
            return
        for w in snap.workers:
            name = Text(w.name + (" " if w.parent else ""), style="bold")
            if w.parent:
                name.append(f"← {w.parent}", style="dim")
            cells = (
                name,
                str(w.pid or "-"),
                state_cell(w, snap),
                f"{w.cpu:5.1f}" if w.state not in ("exited", "zombie") else "",
                str(w.restarts),
                w.step_text if w.state not in ("exited",) else "",
                format_counts(w.signals_received),
            )
            if w.name in self.rows:
                for column, value in zip(COLUMNS, cells):
                    key = (w.name, column)
                    if self._shown.get(key) != value:  # only what changed
                        self.update_cell(w.name, column, value)
                        self._shown[key] = value
            else:
                self.add_row(*cells, key=w.name)
                for column, value in zip(COLUMNS, cells):
                    self._shown[(w.name, column)] = value

    @property
    def selected_worker(self) -> str | None:
        """Name of the worker under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value)
