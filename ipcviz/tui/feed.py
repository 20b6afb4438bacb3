"""Frames from a source's reader thread to the UI thread.

A live run produces frames faster than a busy UI may draw them. The feed keeps only the
newest Snapshot waiting (with every event of the frames it replaced, so the event log
misses nothing) and has one `SnapshotArrived` message in flight at a time: the next one
is posted once the last frame is painted. Fixed data (a replay's seek, a test's frames)
does not coalesce: every frame is posted as it comes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from textual.message import Message

from ipcviz.telemetry.snapshot import EventView, Snapshot


class SnapshotArrived(Message):
    """A new Snapshot from the source (posted from the source's reader thread)."""

    def __init__(self, snapshot: Snapshot):
        super().__init__()
        self.snapshot = snapshot


class SourceFailed(Message):
    """The source could not run the scenario; `lines` say why."""

    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines


class FrameFeed:
    """The newest Snapshot waiting for the UI, and whether the last one is painted yet."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        #: posts a message to the App (thread-safe in Textual)
        self._post = post
        self._lock = threading.Lock()
        self._pending: Snapshot | None = None
        self._pending_events: list[EventView] = []
        #: a Snapshot was applied and is not painted yet: the next one waits for the paint
        self._unpainted = False

    def reset(self) -> None:
        """A new run: frames of the run left behind (ctrl+r) are not shown."""
        with self._lock:
            self._pending, self._pending_events = None, []
            self._unpainted = False

    def arrived(self, snap: Snapshot, coalesce: bool) -> None:
        """From the source's thread: a frame; posted at once unless one is in flight."""
        if not coalesce:  # fixed data: every frame counts
            self._post(SnapshotArrived(snap))
            return
        with self._lock:
            first = self._pending is None and not self._unpainted
            self._pending = snap
            self._pending_events.extend(snap.events)
        if first:
            self._post(SnapshotArrived(snap))

    def take(self) -> Snapshot | None:
        """The newest waiting Snapshot carrying every event since the last one taken
        (None: it was taken already)."""
        with self._lock:
            snap, events = self._pending, self._pending_events
            self._pending, self._pending_events = None, []
            self._unpainted = snap is not None
        if snap is None:
            return None
        return dataclasses.replace(snap, events=tuple(events))

    def painted(self) -> None:
        """The last Snapshot is on screen: the newest one that came meanwhile goes next
        (applying a second before the first was painted held a key's answer back by the
        second's whole work)."""
        with self._lock:
            self._unpainted = False
            waiting = self._pending
        if waiting is not None:
            self._post(SnapshotArrived(waiting))
