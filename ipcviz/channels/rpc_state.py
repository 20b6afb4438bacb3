"""An rpc channel's state in one frame, typed: the callers' calls (each caller's too), the
servers' executions, and the socket under them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from ipcviz.channels.state import ChannelState
from ipcviz.channels.wire import NUMBER, Checked, DictOf, Either, Record, Wire

__all__ = ["CALLER", "RpcState"]

#: a caller's own figures in a frame (its latency is null until one of its calls is
#: answered)
CALLER = Record({"calls": int, "answered": int, "in_flight": int, "timeouts": int,
                 "retries": int, "gave_up": int, "latency_ms_mean": Either(NUMBER, None),
                 "latency_ms_max": Either(NUMBER, None)})


@dataclass(frozen=True, kw_only=True)
class RpcState(ChannelState):
    """Calls counted by the callers' rows, executions by the servers' rows (the same cells
    mean different things on the two sides), and the socket's address and connections."""

    calls: Annotated[int | None, Checked()] = None
    answered: Annotated[int | None, Checked()] = None
    in_flight: Annotated[int | None, Checked()] = None
    timeouts: Annotated[int | None, Checked()] = None
    retries: Annotated[int | None, Checked()] = None
    gave_up: Annotated[int | None, Checked()] = None
    executed: Annotated[int | None, Checked()] = None
    executed_twice: Annotated[int | None, Checked()] = None
    """Calls a server ran a second time (a retry of one it had answered)."""
    errors: Annotated[int | None, Checked()] = None
    latency_ms_mean: Annotated[float | None, Checked()] = None
    """None (a null in the JSON) until a call is answered."""
    latency_ms_max: Annotated[float | None, Checked()] = None
    callers: Annotated[dict[str, dict[str, Any]] | None, Wire(DictOf(CALLER))] = None
    """Per caller its own figures: calls, answered, in_flight, timeouts, retries, gave_up,
    latency_ms_mean, latency_ms_max."""
    bytes_written: Annotated[int | None, Checked()] = None
    bytes_read: Annotated[int | None, Checked()] = None
    peers_refused: Annotated[int | None, Checked()] = None
    """Connections from outside the run, refused."""
    address: str | None = None
    family: str | None = None
    server: str | None = None
    connections: Annotated[int | None, Checked()] = None

    COUNTERS: ClassVar[tuple[str, ...]] = (
        "calls", "answered", "timeouts", "retries", "gave_up", "executed", "executed_twice",
        "errors", "bytes_written", "bytes_read")
    KEPT_WITH: ClassVar[dict[str, str]] = {"latency_ms_mean": "calls",
                                           "latency_ms_max": "calls"}

    def bytes_arrived(self) -> int:
        """The bytes read from its socket (calls and answers)."""
        return self.bytes_read or 0
