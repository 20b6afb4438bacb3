"""Channel kinds, one module each; `KINDS` maps a scenario `kind:` to its class."""

from __future__ import annotations

from ipcviz.channels.base import Channel
from ipcviz.channels.pipe import PipeChannel

KINDS: dict[str, type[Channel]] = {
    PipeChannel.kind: PipeChannel,
}


def channel_class(kind: str) -> type[Channel] | None:
    """The class running channels of `kind`, or None if this version cannot run it yet."""
    return KINDS.get(kind)
