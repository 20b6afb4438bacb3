"""The sampler's part that makes one ChannelView: counters summed over the workers beside
the kernel's view of the object, semaphore holders and waiters, the deadlock check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ipcviz.scenario.kinds import CHANNELS, READING_ROLES, WRITING_ROLES
from ipcviz.telemetry import table as T
from ipcviz.telemetry.deadlock import find_cycle
from ipcviz.telemetry.snapshot import ChannelView, Holder, WorkerView

if TYPE_CHECKING:
    from ipcviz.runtime.procs import SpawnedProc


class ChannelViews:
    """Mixin of `Sampler`: channel counters and kernel state to ChannelViews."""

    def _channel_view(self, name: str, spec: object, arr: np.ndarray | None,
                      workers: list[WorkerView], kids: list[SpawnedProc]) -> ChannelView:
        rt = self.runtime
        kind = spec.kind  # type: ignore[attr-defined]
        counters = CHANNELS[kind].counters
        ends = self._ends.get(name)
        if ends is None:  # who writes and who reads never changes during a run
            ends = self._ends[name] = (
                tuple(p.name for p in rt.procs if p.roles.get(name, set()) & WRITING_ROLES),
                tuple(p.name for p in rt.procs if p.roles.get(name, set()) & READING_ROLES))
        writers, readers = ends
        data: dict[str, object] = {}
        channel = rt.channel_by_name.get(name)
        if arr is not None and channel is not None:
            layout = rt.table.layout  # type: ignore[union-attr]
            index = channel.index

            def column(counter: int) -> np.ndarray:
                return arr[:, layout.channel_cell(index, counter)]

            if counters == "bytes":
                data["bytes_written"] = int(column(T.BYTES_WRITTEN).sum())
                data["bytes_read"] = int(column(T.BYTES_READ).sum())
            if kind == "file":
                data["records_written"] = int(column(T.RECORDS_WRITTEN).sum())
                data["records_read"] = int(column(T.RECORDS_READ).sum())
                data["torn_reads"] = int(column(T.TORN_READS).sum())
            if counters == "messages":
                data["messages_sent"] = int(column(T.MESSAGES_SENT).sum())
                data["messages_received"] = int(column(T.MESSAGES_RECEIVED).sum())
                data["bytes_sent"] = int(column(T.BYTES_WRITTEN).sum())
            # Counters before contents: a worker writes the cell, then counts the increment,
            # so every increment counted here is already in (or lost from) the array.
            per_row = column(T.INCREMENTS) if counters == "array" else None
            increments = int(per_row.sum()) if per_row is not None else 0
            if per_row is not None and name not in self._checked:
                self._checked.add(name)  # the elements `expect` will look at, read for real
                channel.checked = [e["index"] for e in rt.model.expect  # type: ignore[attr-defined]
                                   if e.get("channel") == name and "index" in e]
            data.update(channel.observe())
            if per_row is not None:
                data["increments"] = increments
                # while workers run, up to one burst of increments each may be written but
                # not yet counted: never reported as negative losses
                lost, note = channel.lost_updates(  # type: ignore[attr-defined]
                    increments, data["sum"], int(np.count_nonzero(per_row)),
                    name in rt.scenario.plan.arrays_set)
                data["lost_updates"] = lost
                if note is not None:
                    data["lost_updates_note"] = note
            elif counters == "lock":
                data.update(self._semaphore(name, column(T.ACQUIRED) - column(T.RELEASED),
                                            workers, kids))
        return ChannelView(name, kind, data, writers, readers)

    def _semaphore(self, name: str, held: np.ndarray, workers: list[WorkerView],
                   kids: list[SpawnedProc]) -> dict:
        by_row = {p.row: p.name for p in self.runtime.procs}
        by_row.update({k.row: k.name for k in kids})
        state = {w.name: w.state for w in workers}
        holders = []
        for row in np.flatnonzero(held > 0):
            worker = by_row.get(int(row), f"row {row}")
            dead = state.get(worker) in ("exited", "zombie")
            holders.append(Holder(worker, not dead))
        waiters = [w.name for w in workers
                   if w.state == "blocked" and w.waiting == ("acquire", name)]
        return {"holders": holders, "waiters": waiters}

    @staticmethod
    def _deadlock(workers: list[WorkerView], channels: tuple[ChannelView, ...]
                  ) -> tuple[str, ...] | None:
        sems = {c.name: c.data for c in channels if c.kind == "semaphore"}
        if not sems:
            return None
        waiting = {}
        for w in workers:
            if w.state == "blocked" and w.waiting and w.waiting.op == "acquire":
                sem = w.waiting.on
                if sems.get(sem, {}).get("value") == 0:
                    waiting[w.name] = sem
        holders = {name: [h.name for h in data.get("holders", [])]
                   for name, data in sems.items()}
        return find_cycle(waiting, holders)
