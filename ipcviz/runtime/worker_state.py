"""A worker's state and step words, from its row and the kernel's letter for its process:
what the workers table says it is doing (the sampler's, for every worker at every frame)."""

from __future__ import annotations

import numpy as np

from ipcviz.runtime.program_views import plain_state
from ipcviz.signals import signal_name
from ipcviz.telemetry import table
from ipcviz.telemetry.snapshot import Waiting


def step_words(kind: str, op: int) -> str:
    """The step column: the step's kind; inside a `repeat`, what it is doing now."""
    if kind == "repeat":
        inner = table.OP_NAMES.get(op, "")
        vague = ("", "start", "run", "done", "paused")
        return "repeat" if inner in vague else f"repeat: {inner}"
    return kind


def held_at(row: np.ndarray) -> bool:
    """The row says its worker stands at a step boundary, held there (the run paused,
    stepped or on a schedule, or its own `p`) with no grant of a step outstanding: it
    does nothing until it is let go (worker/boundary.py)."""
    return bool(row[table.HELD]) and int(row[table.OP]) == table.OP_PAUSED and (
        row[table.TAKEN] >= row[table.CTRL_GRANTS])


def worker_state(kernel: str, op: int, row: np.ndarray, channel_names: list[str]
                 ) -> tuple[str, Waiting | None]:
    """A worker's state: the kernel's letter, with the row's words for a sleep. A
    worker whose row says it stands at its step boundary, held there (`held_at`), is
    "held", whatever its looks at its cell make the kernel say. A worker whose row
    says it was inside a wait in this frame's moment (WAITS odd) is waiting even when
    the kernel, read a moment later, says running: a wait is a loop of timed waits
    (its handlers may end it), and on a loaded machine the instant between two of
    them can last the whole /proc reading."""
    plain = plain_state(kernel)
    if plain in (None, "running") and held_at(row):
        return "held", None
    if plain == "running" and int(row[table.WAITS]) & 1:
        plain = None
    if plain is not None:
        return plain, None
    if op in table.BLOCKING_OPS:
        what = table.OP_NAMES[op]
        channel = int(row[table.OP_CHANNEL])
        if op == table.OP_WAIT_SIGNAL:
            return "blocked", Waiting(what, signal_name(int(row[table.OP_ARG])))
        if 0 <= channel < len(channel_names):
            return "blocked", Waiting(what, channel_names[channel])
        return "blocked", Waiting(what)
    return "sleeping", None
