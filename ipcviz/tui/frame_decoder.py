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

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ipcviz.telemetry.snapshot import ChannelView, Snapshot, WorkerView, channel_of, worker_of

V = TypeVar("V")


class _Kept(Generic[V]):
    """One kind of view (workers or channels): the last frame's wire form and view of
    each, by name, and the ones of the frame being decoded."""

    def __init__(self, make: Callable[[dict[str, Any]], V]) -> None:
        self._make = make
        self._last: dict[str, tuple[dict[str, Any], V]] = {}
        self._now: dict[str, tuple[dict[str, Any], V]] = {}

    def begin(self) -> None:
        """A frame's decoding starts (what a frame that failed to decode left is dropped)."""
        self._now = {}

    def view(self, raw: dict[str, Any]) -> V:
        """The view of one wire form: the last frame's very object when equal."""
        name = raw.get("name")
        if not isinstance(name, str):  # (not a frame of ours: the general path says so)
            return self._make(raw)
        last = self._last.get(name)
        view = last[1] if last is not None and last[0] == raw else self._make(raw)
        self._now[name] = (raw, view)
        return view

    def turn(self) -> None:
        """The frame is decoded: its wire forms are the ones the next is compared with
        (a name the frame did not have is forgotten)."""
        self._last, self._now = self._now, {}


class FrameDecoder:
    """Decodes one run's frames in order, reusing the views of unchanged wire forms."""

    def __init__(self) -> None:
        self._workers: _Kept[WorkerView] = _Kept(worker_of)
        self._channels: _Kept[ChannelView] = _Kept(channel_of)

    def decode(self, data: dict[str, Any]) -> Snapshot:
        """The Snapshot of one frame's wire form (as `Snapshot.from_dict` makes it)."""
        self._workers.begin()
        self._channels.begin()
        snap = Snapshot.from_dict(data, self._workers.view, self._channels.view)
        self._workers.turn()
        self._channels.turn()
        return snap
