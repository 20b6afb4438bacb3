"""A live run's frames into Snapshots, the views of unchanged workers and channels kept.

Between two frames of a live run most workers and many channels are the same: a worker
asleep, a channel nobody used. The runtime sends every one of them again (a frame is
whole, and it is also the recording format), and the UI used to build a new view of
each, then every panel compared each new view with what it showed. The decoder keeps the
last frame's wire form of each worker and channel beside its view: a wire form equal to
the last one (a C-level comparison of dicts) gives the very same view object, so the
decoding costs less and a panel can tell an unchanged worker by identity (`moved.py`).

A reused view is equal to the one a fresh decode would make: its wire form compared
equal value by value, as Python compares values (1, 1.0 and true would be one value; the
runtime writes each field with one type).
"""

from __future__ import annotations

from typing import Any

from ipcviz.telemetry.snapshot import ChannelView, Snapshot, WorkerView, channel_of, worker_of


class FrameDecoder:
    """Decodes one run's frames in order, reusing the views of unchanged wire forms."""

    def __init__(self) -> None:
        #: the last frame's wire form and view of each worker and channel, by name
        self._workers: dict[str, tuple[dict[str, Any], WorkerView]] = {}
        self._channels: dict[str, tuple[dict[str, Any], ChannelView]] = {}

    def decode(self, data: dict[str, Any]) -> Snapshot:
        """The Snapshot of one frame's wire form (as `Snapshot.from_dict` makes it)."""
        last_workers = self._workers
        workers: dict[str, tuple[dict[str, Any], WorkerView]] = {}
        last_channels = self._channels
        channels: dict[str, tuple[dict[str, Any], ChannelView]] = {}

        def worker(raw: dict[str, Any]) -> WorkerView:
            name = raw.get("name")
            if not isinstance(name, str):  # (not a frame of ours: the general path says so)
                return worker_of(raw)
            last = last_workers.get(name)
            view = last[1] if last is not None and last[0] == raw else worker_of(raw)
            workers[name] = (raw, view)
            return view

        def channel(raw: dict[str, Any]) -> ChannelView:
            name = raw.get("name")
            if not isinstance(name, str):  # (not a frame of ours: the general path says so)
                return channel_of(raw)
            last = last_channels.get(name)
            view = last[1] if last is not None and last[0] == raw else channel_of(raw)
            channels[name] = (raw, view)
            return view

        snap = Snapshot.from_dict(data, worker, channel)
        self._workers, self._channels = workers, channels
        return snap
