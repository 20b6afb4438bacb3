"""What the App's key handlers may use of it: `LiveView`, a Protocol the App satisfies.

The handlers (time_keys, layout_keys, authoring_keys, process_keys, reload) are objects of
their own that the App composes; each is given the App as a `LiveView`, so what a handler
may reach (the run's source, its newest frame, the screens and widgets) is written here
once, and mypy checks both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from textual.css.query import DOMQuery
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

if TYPE_CHECKING:
    from ipcviz.protocol import Command
    from ipcviz.telemetry.snapshot import Snapshot
    from ipcviz.tui.source import Source

WidgetType = TypeVar("WidgetType", bound=Widget)
ScreenResult = TypeVar("ScreenResult")


class LiveView(Protocol):
    """The App as its key handlers see it."""

    #: where the frames come from (a live run, a replay, fixed frames); None: the picker
    source: Source | None
    #: the newest frame applied to the panels
    latest: Snapshot | None

    @property
    def selected_worker(self) -> str | None:
        """The worker the table's cursor is on."""

    @property
    def screen(self) -> Screen[Any]:
        """The screen on top."""

    def send(self, command: Command) -> None:
        """A command to the source (a live run's runtime); nothing without one."""

    def start_source(self, source: Source) -> None:
        """Show a new run from `source` in place of the current one."""

    def trigger_owns(self, key: str) -> bool:
        """The scenario binds this soft key to a trigger: the trigger fired instead."""

    def query_one(self, selector: type[WidgetType]) -> WidgetType: ...

    def query(self, selector: type[WidgetType]) -> DOMQuery[WidgetType]: ...

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None: ...

    def push_screen(self, screen: Screen[ScreenResult],
                    callback: Callable[[ScreenResult | None], Any] | None = None) -> Any: ...

    def pop_screen(self) -> Any: ...

    def suspend(self) -> AbstractContextManager[None]: ...

    def set_timer(self, delay: float, callback: Callable[[], Any]) -> Timer: ...
