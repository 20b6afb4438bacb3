"""Which standard signals a frame may call "coalesced": only merges the counts prove.

A standard signal sent and not yet counted is one of three things: pending in the kernel
(its bit set, the handler not run), delivered and not yet counted (the C-level handler
ran, the worker's Python code has not read its wakeup byte yet: the process is running),
or merged into one already pending (coalesced, lost for good). Only the last may be called
coalesced, and a frame can prove it only from readings in this order:

1. what was sent to the process (read first, at the start of the frame),
2. the kernel's state of the process: asleep (S or D), so nothing sent before is being
   delivered or counted now (a delivery wakes a sleeping process until its handler ran),
   and the signal not pending in the kernel's masks,
3. what the process counted as received, read again after the two.

Then every signal of (1) was counted by (3) or merged, so sent(1) - received(3) is a
number of merges that really happened: never more than the truth, and the frame's own
sent - received (received read before (2)) is never less than it. Whatever part of a
frame's sent - received it does not prove is "in flight".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ipcviz.signals import is_realtime, signal_name
from ipcviz.telemetry import table as T

#: kernel states in which a process is not running: no delivery is half-counted
ASLEEP = frozenset("SDI")


def proven_merges(kernel_state: str, masks: Mapping[str, list[str]],
                  sent: Mapping[int, int], row: np.ndarray | None,
                  received_before: np.ndarray | None = None) -> dict[str, int]:
    """Merges proven now, per standard signal name (see the module docstring): `sent`
    (signal number -> sent to this process life, read before the kernel's state), the
    process's `kernel_state` letter and `masks` read after it, and its telemetry `row`
    (live shared memory) read here, after both; `received_before` what earlier lives of
    the worker received (subtracted). Empty while it runs, stopped or gone."""
    if row is None or kernel_state not in ASLEEP or not sent:
        return {}
    if row[T.OP] == T.OP_READ and row[T.OP_ARG] == T.COUNTED_WHEN_READ_RETURNS:
        return {}  # asleep in read(2) again after a handler ran: not counted yet
    pending = set(masks.get("pending", ())) | set(masks.get("shared_pending", ()))
    ignored = set(masks.get("ignored", ()))
    caught = set(masks.get("caught", ()))
    out: dict[str, int] = {}
    for sig, count in sent.items():
        name = signal_name(sig)
        if (count <= 0 or is_realtime(sig) or name in pending or name in ignored
                or name not in caught):  # uncaught: its default action, nothing counts it
            continue
        received = int(row[T.SIG_RECEIVED + sig])
        if received_before is not None:
            received -= int(received_before[sig])
        if count > received:
            out[name] = count - received
    return out


class MergeProofs:
    """The merges proven so far per process (pid): a merge never comes undone, so each
    frame shows the most ever proven for the process; frames between two ticks of the
    clock (the kernel's state not read again) show the last tick's."""

    def __init__(self) -> None:
        self._by_pid: dict[int, dict[str, int]] = {}

    def proven(self, pid: int) -> dict[str, int]:
        """The merges proven for process `pid` while it lived (kept once it has ended)."""
        return dict(self._by_pid.get(pid, {}))

    def update(self, pid: int, fresh: bool, kernel_state: str,
               masks: Mapping[str, list[str]], sent: Mapping[int, int],
               row: np.ndarray | None, received_before: np.ndarray | None = None
               ) -> dict[str, int]:
        """The merges to show for process `pid` (see `proven_merges`); `fresh`: the
        kernel's state was read during this frame, after `sent`."""
        known = self._by_pid.get(pid, {})
        if not fresh:
            return dict(known)
        now = proven_merges(kernel_state, masks, sent, row, received_before)
        if not now:
            return dict(known)
        best = {**known}
        for name, n in now.items():
            best[name] = max(n, best.get(name, 0))
        if len(self._by_pid) > 4096:
            self._by_pid.clear()
        self._by_pid[pid] = best
        return dict(best)
