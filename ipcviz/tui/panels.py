"""The live view's parts: every widget the App lays out, the ones that get each Snapshot
(in drawing order) and the panels' titles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ipcviz.tui.widgets.events import EventLog
from ipcviz.tui.widgets.locks import LocksPanel
from ipcviz.tui.widgets.pipes import PipesPanel
from ipcviz.tui.widgets.programs import ProgramsPanel
from ipcviz.tui.widgets.queues import QueuesPanel
from ipcviz.tui.widgets.result import ResultLine
from ipcviz.tui.widgets.rpc import RpcPanel
from ipcviz.tui.widgets.shm import SharedMemoryPanel
from ipcviz.tui.widgets.signals import SignalsPanel
from ipcviz.tui.widgets.source_view import SourceView
from ipcviz.tui.widgets.speed import SpeedPanel
from ipcviz.tui.widgets.status import LessonText, StatusBar
from ipcviz.tui.widgets.timeline import Timeline
from ipcviz.tui.widgets.workers import WorkersTable

if TYPE_CHECKING:
    from ipcviz.telemetry.snapshot import Snapshot

__all__ = ["BORDER_TITLES", "PANELS", "EventLog", "ForgetsRuns", "ShowsSnapshots",
           "LessonText", "LocksPanel", "PipesPanel",
           "ProgramsPanel", "QueuesPanel", "ResultLine", "RpcPanel", "SharedMemoryPanel", "SignalsPanel",
           "SourceView", "SpeedPanel", "StatusBar", "Timeline", "WorkersTable"]

@runtime_checkable
class ShowsSnapshots(Protocol):
    """A widget that draws each Snapshot given to it (a reactive `snapshot`)."""

    snapshot: Snapshot | None


@runtime_checkable
class ForgetsRuns(Protocol):
    """A widget that keeps something of a run (a history) to forget when a new one starts."""

    def forget_run(self) -> None: ...


#: the widgets that render each Snapshot
PANELS = (StatusBar, ResultLine, LessonText, WorkersTable, SpeedPanel, ProgramsPanel, SignalsPanel,
          PipesPanel, QueuesPanel, RpcPanel, SharedMemoryPanel, LocksPanel, SourceView,
          Timeline)

BORDER_TITLES = {
    EventLog: "events", Timeline: "timeline: who sent what to whom (T: back to the events)",
    PipesPanel: "pipes, FIFOs, sockets: bytes in the kernel",
    QueuesPanel: "queues: messages waiting",
    RpcPanel: "RPC: calling a function in another process",
    SignalsPanel: "signals: received / sent, kernel masks",
    SharedMemoryPanel: "shared memory: live contents", LocksPanel: "locks: POSIX semaphores",
    ProgramsPanel: "programs: what the kernel shows",
    SpeedPanel: "speed race: bytes delivered per second",
}
