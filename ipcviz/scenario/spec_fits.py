"""Each kind's options model (models.py) has what its channel class reads of it.

A channel class is generic in a protocol of the options it reads (`PipeChannel` is a
`Channel[PipeSpec]`): the channels layer, below this one, cannot name the models. Here
each model is given as its kind's protocol, so mypy checks that every option a channel
reads is a field of its model, of a type the channel accepts (tests/test_types.py runs
it). Nothing here runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipcviz.channels.file_channel import FileSpec
    from ipcviz.channels.mmap_file import MmapSpec
    from ipcviz.channels.mqueue import MqueueSpec
    from ipcviz.channels.page import PageSpec
    from ipcviz.channels.pipe import PipeSpec
    from ipcviz.channels.queue import QueueSpec
    from ipcviz.channels.semaphore import SemaphoreSpec
    from ipcviz.channels.shared_array import ArraySpec
    from ipcviz.channels.shm_object import ShmSpec
    from ipcviz.channels.socket_channel import ListenSpec, SocketSpec
    from ipcviz.channels.window import WindowSpec
    from ipcviz.scenario import models as m

    PIPE: type[PipeSpec] = m.PipeChannel
    FIFO: type[PipeSpec] = m.FifoChannel
    SOCKET: type[SocketSpec] = m.SocketChannel
    RPC: type[ListenSpec] = m.RpcChannel
    MQUEUE: type[MqueueSpec] = m.MqueueChannel
    QUEUE: type[QueueSpec] = m.QueueChannel
    SEMAPHORE: type[SemaphoreSpec] = m.SemaphoreChannel
    SHARED_ARRAY: type[ArraySpec] = m.SharedArrayChannel
    MMAP: type[MmapSpec] = m.MmapChannel
    PAGE: type[PageSpec] = m.PageChannel
    SHM: type[ShmSpec] = m.ShmChannel
    WINDOW: type[WindowSpec] = m.WindowChannel
    FILE: type[FileSpec] = m.FileChannel
    # sysv_queue reads none of its options (Channel[object])
