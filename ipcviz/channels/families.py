"""Which typed state each family of channel kinds has (kinds.ChannelKind.family), for a
kind whose row in the table of kinds names none of its own (`ChannelKind.state`).
Memory's kinds differ too much to share one: each names its own (channels/memory_state.py)."""

from __future__ import annotations

from ipcviz.channels.lock_state import LockState
from ipcviz.channels.queue_state import QueueState
from ipcviz.channels.rpc_state import RpcState
from ipcviz.channels.state import ChannelState, DictState, StreamState

__all__ = ["FAMILY_STATES", "state_of"]

#: a family's state when the kind's row names none (ChannelKind.state)
FAMILY_STATES: dict[str, type[ChannelState]] = {"stream": StreamState, "queue": QueueState,
                                                "lock": LockState, "rpc": RpcState}


def state_of(state: type[ChannelState] | None, family: str) -> type[ChannelState]:
    """The state class of a kind: its own (`ChannelKind.state`), else its family's."""
    return state or FAMILY_STATES.get(family, DictState)
