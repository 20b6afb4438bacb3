"""Failure text: what a worker's failure cells say, in words (the worker's `failure`,
and the words of its FAILED event in the log)."""

from __future__ import annotations

import errno
import os

import numpy as np

from ipcviz.telemetry import table as T


def failure_text(error: int, op: str, channel: str | None) -> str:
    """Why a step ended its worker (T.FAILURE; `op` the operation's name, T.OP_NAMES):
    "send to jobs failed: ENOSPC (No space left on device)", "spawn failed: fork() EAGAIN
    (Resource temporarily unavailable)"."""
    what = op
    if op == "spawn":
        what += " failed: fork()"
    elif channel is not None:
        what += f" {'to' if op in ('write', 'send') else 'on'} {channel} failed:"
    else:
        what += " failed:"
    return f"{what} {errno.errorcode.get(error, str(error))} ({os.strerror(error)})"


def row_failure(row: np.ndarray | None, channel_names: list[str]) -> str:
    if row is None or not row[T.FAILURE]:
        return ""
    channel = int(row[T.FAILURE_CHANNEL])
    return failure_text(int(row[T.FAILURE]), T.OP_NAMES.get(int(row[T.FAILURE_OP]), "step"),
                        channel_names[channel] if 0 <= channel < len(channel_names) else None)
