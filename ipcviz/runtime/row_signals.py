"""Every row's received and sent signals by name, counted once per frame from the table's
signal columns (a frame asks for them per worker, per kid, per mask key)."""

from __future__ import annotations

import numpy as np

from ipcviz.signals import NSIG, signal_name
from ipcviz.telemetry import table as T


class RowSignals:
    """The signal counts of one frame's table, by row."""

    def __init__(self) -> None:
        self._of: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        self._received_totals: np.ndarray | None = None

    def count(self, arr: np.ndarray | None) -> None:
        """Count every row's signals from one pass over `arr`'s signal columns (received,
        then sent: SIG_SENT follows SIG_RECEIVED); None: no table, no signals."""
        self._of = {}
        self._received_totals = None
        if arr is None:
            return
        # a copy: the workers write these cells meanwhile, and np.nonzero counts, then
        # fills, in two passes over its input (it raises when the count changed between)
        block = arr[:, T.SIG_RECEIVED:T.SIG_SENT + NSIG].copy()
        rows, cols = np.nonzero(block)
        out = self._of
        for row, col, n in zip(rows.tolist(), cols.tolist(), block[rows, cols].tolist()):
            pair = out.get(row)
            if pair is None:
                pair = out[row] = ({}, {})
            if col < NSIG:
                pair[0][signal_name(col)] = n
            else:
                pair[1][signal_name(col - NSIG)] = n
        self._received_totals = block[:, :NSIG].sum(axis=1)

    def received(self, row: int) -> dict[str, int]:
        """Row `row`'s received signals, by name."""
        pair = self._of.get(row)
        return dict(pair[0]) if pair is not None else {}

    def sent(self, row: int) -> dict[str, int]:
        """Row `row`'s sent signals, by name."""
        pair = self._of.get(row)
        return dict(pair[1]) if pair is not None else {}

    def received_total(self, row: int) -> int:
        """How many signals row `row` received in all."""
        totals = self._received_totals
        return int(totals[row]) if totals is not None else 0
