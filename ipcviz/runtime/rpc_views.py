"""An rpc channel as the frame shows it: calls counted by the callers' rows, executions by
the servers' rows (the same cells mean different things on the two sides)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ipcviz.telemetry import table as T

#: the figures a caller has, each its own and summed over the callers
_CALLER_SUMS = ("calls", "answered", "in_flight", "timeouts", "retries", "gave_up")


def rpc_data(column: Callable[[int], np.ndarray], rows: Mapping[int, tuple[str, bool]]
             ) -> dict[str, Any]:
    """The channel's totals and per caller its own figures; `column(cell)` is a counter
    over every row, `rows` each row's (worker, whether it serves the channel)."""
    out: dict[str, Any] = dict.fromkeys(_CALLER_SUMS + ("executed", "executed_twice",
                                                        "errors"), 0)
    callers: dict[str, dict[str, Any]] = {}
    latency_sum, latency_max = 0, 0
    for row, (worker, serving) in sorted(rows.items()):
        if serving:
            for key, cell in (("executed", T.EXECUTED), ("executed_twice",
                              T.EXECUTED_TWICE), ("errors", T.RPC_ERRORS)):
                out[key] += int(column(cell)[row])
            continue
        mine = _caller(column, row)
        if mine is None:
            continue
        callers[worker] = mine
        for key in _CALLER_SUMS:
            out[key] += mine[key]
        latency_sum += int(column(T.LATENCY_SUM_US)[row])
        latency_max = max(latency_max, int(column(T.LATENCY_MAX_US)[row]))
    answered = out["answered"]
    out["latency_ms_mean"] = round(latency_sum / answered / 1000, 3) if answered else None
    out["latency_ms_max"] = round(latency_max / 1000, 3) if answered else None
    out["callers"] = callers
    return out


def _caller(column: Callable[[int], np.ndarray], row: int) -> dict[str, Any] | None:
    """One caller's figures (None: it made no call)."""
    calls = int(column(T.CALLS)[row])
    if not calls:
        return None
    answered, gave_up = int(column(T.ANSWERED)[row]), int(column(T.GAVE_UP)[row])
    return {"calls": calls, "answered": answered,
            "in_flight": calls - answered - gave_up,
            "timeouts": int(column(T.TIMEOUTS)[row]),
            "retries": int(column(T.RETRIES)[row]), "gave_up": gave_up,
            "latency_ms_mean": round(int(column(T.LATENCY_SUM_US)[row]) / answered
                                     / 1000, 3) if answered else None,
            "latency_ms_max": round(int(column(T.LATENCY_MAX_US)[row]) / 1000, 3)
            if answered else None}
