"""Channel kinds, one module each; `KINDS` maps a scenario `kind:` to its class."""

from __future__ import annotations

from ipcviz.channels.base import Channel
from ipcviz.channels.fifo import FifoChannel
from ipcviz.channels.mmap_file import MmapChannel
from ipcviz.channels.mqueue import MqueueChannel
from ipcviz.channels.pipe import PipeChannel
from ipcviz.channels.queue import QueueChannel
from ipcviz.channels.semaphore import SemaphoreChannel
from ipcviz.channels.shared_array import SharedArrayChannel
from ipcviz.channels.socket_channel import SocketChannel

KINDS: dict[str, type[Channel]] = {
    cls.kind: cls for cls in (PipeChannel, FifoChannel, SocketChannel, MqueueChannel,
                              QueueChannel, SharedArrayChannel, SemaphoreChannel, MmapChannel)
}


def channel_class(kind: str) -> type[Channel] | None:
    """The class running channels of `kind`, or None if this version cannot run it yet."""
    return KINDS.get(kind)
