"""The values a result line names, looked up in one frame: the same summary entries
`expect:` compares, built only for the workers and channels the line names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ipcviz.telemetry.summary import channel_entry, worker_entry


def snapshot_lookups(snap: Any) -> tuple[Callable[[str], list[Mapping[str, Any]]],
                                         Callable[[str], Mapping[str, Any] | None]]:
    """`render`'s two look-ups over one frame: summary entries, built for named ones only."""
    def worker(name: str) -> list[Mapping[str, Any]]:
        view = snap.worker(name)
        if view is not None:
            return [worker_entry(view)]
        return [worker_entry(w) for w in snap.workers
                if w.name.startswith((f"{name}.", f"{name}#"))]

    def channel(name: str) -> Mapping[str, Any] | None:
        view = snap.channel(name)
        return None if view is None else channel_entry(view)

    return worker, channel
