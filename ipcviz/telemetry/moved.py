"""Which workers' views changed between two Snapshots, told by identity.

The UI's decoder of a live run (tui/frame_decoder.py) gives a worker whose wire form did
not change the very view object of the frame before (and a view reused over several
frames was unchanged over all of them). What works per worker (the table's rows, the
signals panel's activity, the timeline's counters) then looks again only at the workers
whose view is a new object, the others being equal to what it already took in. Fixed
frames (a replay, a test's) share no views: every worker counts as moved, as before.
"""

from __future__ import annotations

from ipcviz.telemetry.snapshot import Snapshot


def moved_workers(before: Snapshot | None, snap: Snapshot) -> list[int] | None:
    """Indices of `snap`'s workers whose view is not the object at the same index of
    `before` (so possibly different); None when the two frames do not list their workers
    alike (no frame before, another count, another order), when every worker counts."""
    if before is None:
        return None
    old, new = before.workers, snap.workers
    if len(old) != len(new):
        return None
    moved = [i for i, (a, b) in enumerate(zip(old, new)) if a is not b]
    for i in moved:
        if old[i].name != new[i].name:  # not the same worker at this place
            return None
    return moved
