"""What a page and a window of mapped memory show: figures each process that touched one
wrote in its own row (its address, the physical frame behind it, pages touched, faults),
for channels/page.py and channels/window.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ipcviz.telemetry import table as T


def page_views(column: Callable[[int], np.ndarray], by_row: dict[int, str],
               last_read: dict[str, list]) -> dict[str, object]:
    """What each process that touched a page saw (channels/page.py): `seen_by` {worker:
    [its virtual address, the frame at its first access, the frame at its latest]}
    (frames null when the kernel hid them), `values_read` {worker: the text of its last
    read}, and whether all of them used one address and shared one frame at their first
    and at their latest access (null while fewer than two processes touched it, or
    when the kernel hides frames: `frames_hidden`)."""
    from ipcviz.channels.page import FRAME_HIDDEN

    addresses = column(T.PAGE_ADDRESS).copy()
    firsts, lasts = column(T.FIRST_FRAME).copy(), column(T.LAST_FRAME).copy()
    seen: dict[str, list] = {}
    hidden = False
    for row in np.flatnonzero(addresses):
        name = by_row.get(int(row))
        if name is None:
            continue
        first, last = int(firsts[row]), int(lasts[row])
        hidden = hidden or FRAME_HIDDEN in (first, last)
        seen[name] = [f"{int(addresses[row]):#x}", first if first > 0 else None,
                      last if last > 0 else None]

    def one(values: list) -> bool | None:
        if len(values) < 2 or None in values:
            return None
        return len(set(values)) == 1

    return {"seen_by": seen, "frames_hidden": hidden,
            "same_address": one([a for a, _f, _l in seen.values()]),
            "same_frame_first": one([f for _a, f, _l in seen.values()]),
            "same_frame_last": one([last for _a, _f, last in seen.values()]),
            "values_read": {w: text.rstrip("\x00") for w, (text, _n) in last_read.items()}}


def window_views(column: Callable[[int], np.ndarray]) -> dict[str, object]:
    """A window's figures summed over its readers (channels/window.py): pages touched,
    resident pages of their mappings (null when a reader's mapping was not found), and
    the page faults their reads took."""
    readers = np.flatnonzero(column(T.PAGE_ADDRESS))
    rss = column(T.RSS_PAGES)[readers]
    return {"pages_touched": int(column(T.PAGES_TOUCHED)[readers].sum()),
            "rss_pages": None if (rss < 0).any() else int(rss.sum()),
            "faults": int(column(T.READ_FAULTS).sum()),
            "major_faults": int(column(T.READ_MAJOR_FAULTS).sum())}
