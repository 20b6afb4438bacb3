"""The workers table's columns: their titles and how the screen's width is shared out.

Kept apart from the table's drawing (workers.py): which column gets the room, and what a
cell says when it has less room than it needs, are decided here.
"""

from __future__ import annotations

from ipcviz.format import format_counts
from ipcviz.telemetry.snapshot import Snapshot

COLUMNS = ("worker", "pid", "state", "cpu %", "restarts", "step", "signals got")
#: while the run is held (paused, stepped, scheduled) the last column says what each
#: worker does next instead (the signals panel still counts the signals received)
HELD_COLUMNS = COLUMNS[:-1] + ("next",)


def held(snap: Snapshot | None) -> bool:
    """The run is not simply running: show each worker's next operation."""
    return snap is not None and snap.mode != "run"


def column_widths(total: int, held: bool = False, signals_need: int = 0) -> tuple[int, ...]:
    """Fixed widths that fit `total` cells (recomputing widths on every update is what
    makes a big table slow): the state column gets the most room, except while the run
    is held, when the next operation's words need it, or when a worker's signal counts
    (`signals_need` cells, the longest seen) would be cut: counts are cut last."""
    # a wide screen gives the step column room for "repeat: write" (the step inside it)
    fixed = {"pid": 7, "cpu %": 5, "restarts": 8, "step": 13 if total >= 100 else 9}
    room = max(30, total - 2 * len(COLUMNS) - 2 - sum(fixed.values()))
    worker = max(8, min(16, room // 4))
    # held, every state begins "held": on a narrow screen the next operation (its byte
    # counts and names) has the room before the state's words do
    floor = 10 if held else 14
    state = max(floor, min(40, room - worker - (26 if held else 10)))
    if not held and room - worker - state < signals_need:
        state = max(floor, room - worker - signals_need)
    signals = max(10, room - worker - state)
    sizes = {**fixed, "worker": worker, "state": state, "signals got": signals}
    return tuple(sizes[c] for c in COLUMNS)


def signals_cell(counts: dict[str, int], width: int) -> str:
    """The signals a worker received, counted: "SIGINT 1, SIGUSR1 3", or where that is
    wider than `width`, without the "SIG" of each name ("INT 1, USR1 3", as the signals
    panel's narrow columns name them), so that the counts are cut last."""
    full = format_counts(counts)
    if len(full) <= width:
        return full
    return format_counts({name.removeprefix("SIG"): n for name, n in counts.items()})
