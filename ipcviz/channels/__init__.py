"""Channel kinds, one module each; `KINDS` maps a scenario `kind:` to its class."""

from __future__ import annotations

from ipcviz.channels.base import Channel
from ipcviz.channels.mmap_file import MmapChannel
from ipcviz.channels.pipe import PipeChannel
from ipcviz.channels.semaphore import SemaphoreChannel
from ipcviz.channels.shared_array import SharedArrayChannel

KINDS: dict[str, type[Channel]] = {
    cls.kind: cls for cls in (PipeChannel, SharedArrayChannel, SemaphoreChannel, MmapChannel)
}


def channel_class(kind: str) -> type[Channel] | None:
    """The class running channels of `kind`, or None if this version cannot run it yet."""
    return KINDS.get(kind)
