"""An rpc channel's state in one frame, typed: the callers' calls (each caller's too), the
servers' executions, and the socket under them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ipcviz.channels.state import ChannelState

__all__ = ["RpcState"]


@dataclass(frozen=True, kw_only=True)
class RpcState(ChannelState):
    """Calls counted by the callers' rows, executions by the servers' rows (the same cells
    mean different things on the two sides), and the socket's address and connections."""

    calls: int | None = None
    answered: int | None = None
    in_flight: int | None = None
    timeouts: int | None = None
    retries: int | None = None
    gave_up: int | None = None
    executed: int | None = None
    executed_twice: int | None = None
    """Calls a server ran a second time (a retry of one it had answered)."""
    errors: int | None = None
    latency_ms_mean: float | None = None
    """None (a null in the JSON) until a call is answered."""
    latency_ms_max: float | None = None
    callers: dict[str, dict[str, Any]] | None = None
    """Per caller its own figures: calls, answered, in_flight, timeouts, retries, gave_up,
    latency_ms_mean, latency_ms_max."""
    bytes_written: int | None = None
    bytes_read: int | None = None
    peers_refused: int | None = None
    """Connections from outside the run, refused."""
    address: str | None = None
    family: str | None = None
    server: str | None = None
    connections: int | None = None

    COUNTERS: ClassVar[tuple[str, ...]] = (
        "calls", "answered", "timeouts", "retries", "gave_up", "executed", "executed_twice",
        "errors", "bytes_written", "bytes_read")
    KEPT_WITH: ClassVar[dict[str, str]] = {"latency_ms_mean": "calls",
                                           "latency_ms_max": "calls"}
