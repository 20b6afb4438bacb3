"""Which panel of the live view shows a channel: the UI's choice, made from its kind's
family (kinds.ChannelKind.family: what the channel is); the scenario format names no
panel. A kind registered from elsewhere appears in its family's panel."""

from __future__ import annotations

from ipcviz.scenario.kinds import CHANNELS
from ipcviz.telemetry.snapshot import ChannelView, Snapshot

#: family -> the panel that shows its channels
FAMILY_PANELS = {"stream": "pipes", "queue": "queues", "memory": "memory", "lock": "locks",
                 "rpc": "rpc"}
if {row.family for row in CHANNELS.values()} - FAMILY_PANELS.keys():
    raise RuntimeError("a channel kind's family has no panel in channel_panels.py")


def panel_of(kind: str) -> str | None:
    """The panel that shows channels of `kind` (None: a kind this ipcviz does not know,
    as a newer recording may hold)."""
    row = CHANNELS.get(kind)
    return FAMILY_PANELS[row.family] if row is not None else None


def channels_in(panel: str, snap: Snapshot) -> list[ChannelView]:
    """The channels of `snap` that `panel` shows, in the scenario's order."""
    return [c for c in snap.channels if panel_of(c.kind) == panel]
