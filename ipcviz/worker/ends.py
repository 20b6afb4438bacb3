"""A worker's channel endpoints, typed by what its step handlers use of them.

`attach` gives each channel's end as its kind makes it; a step handler wants the shape it
works with (channels/endpoints.py: a byte stream, a message queue, a lock, ...). `Ends`
holds one mapping per shape, `row.ends.stream[name]` for a byte stream: the endpoint is
checked against the shape's protocol the first time a name is asked for, and then sits in
that mapping, so every later lookup is a dict lookup (`__missing__` runs only on a miss).
A dict subclass misses the interpreter's exact-dict shortcut, a small cost paid only
where a general path looks its end up per call: the fast paths and bursts take theirs
once, when they are made. A name whose end is not of that shape (a scenario naming a
channel of the wrong family, which the loader already refuses) fails with one line
saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar, cast

from ipcviz.channels.endpoints import (Endpoint, LockEnd, MessageEnd, PipeEnd, StreamEnd,
                                       TypedMessageEnd)
from ipcviz.channels.file_channel import FileEnd
from ipcviz.channels.mmap_file import MappedEnd
from ipcviz.channels.mqueue import KernelQueueEnd
from ipcviz.channels.page import PageEnd
from ipcviz.channels.rpc import RpcClientEnd, RpcServerEnd
from ipcviz.channels.shared_array import ArrayEnd
from ipcviz.channels.shm_object import ShmEnd
from ipcviz.channels.window import WindowEnd

__all__ = ["Ends", "NotThatEnd", "Shelf"]

E = TypeVar("E")


class NotThatEnd(LookupError):
    """A step asked for a channel's end as a shape it does not have (or for a channel
    this worker holds no end of)."""


class Shelf(dict[str, E], Generic[E]):
    """The ends of one shape, by channel name: filled on first use of each name."""

    def __init__(self, shape: type, what: str, attached: Mapping[str, Endpoint],
                 kinds: Mapping[str, str]):
        super().__init__()
        self.shape = shape
        self.what = what
        self.attached = attached
        self.kinds = kinds

    def __missing__(self, name: str) -> E:
        """Only for a name not asked for before: check its end, keep it."""
        end = self.attached.get(name)
        if end is None:
            raise NotThatEnd(f"channel {name!r}: this worker holds no end of it")
        if not isinstance(end, self.shape):
            kind = self.kinds.get(name, "?")
            raise NotThatEnd(f"channel {name!r} is a {kind}: its end is not {self.what} "
                             f"({type(end).__name__} is no {self.shape.__name__})")
        self[name] = typed = cast(E, end)
        return typed


class Ends:
    """One worker's endpoints, one typed mapping per shape its steps use."""

    def __init__(self, attached: Mapping[str, Endpoint], kinds: Mapping[str, str]):
        #: `write`, `read`, `echo` on a pipe, FIFO or socket
        self.stream: Shelf[StreamEnd] = Shelf(
            StreamEnd, "a byte stream", attached, kinds)
        #: a pipe's or FIFO's descriptors (the fast paths, bursts, kept ends)
        self.pipe: Shelf[PipeEnd] = Shelf(
            PipeEnd, "a stream of descriptors (a pipe)", attached, kinds)
        #: `send`, `receive`
        self.queue: Shelf[MessageEnd] = Shelf(
            MessageEnd, "a message queue", attached, kinds)
        #: `send`, `receive` with `type:`
        self.typed_queue: Shelf[TypedMessageEnd] = Shelf(
            TypedMessageEnd, "a queue of typed messages", attached, kinds)
        #: a loop of one `send` or `receive` run as a burst
        self.kernel_queue: Shelf[KernelQueueEnd] = Shelf(
            KernelQueueEnd, "a queue of the kernel's (mqueue)", attached, kinds)
        #: `acquire`, `release`, `increment` with `lock:`
        self.lock: Shelf[LockEnd] = Shelf(
            LockEnd, "a lock", attached, kinds)
        #: `increment`, `set`, `read` of a shared array
        self.array: Shelf[ArrayEnd] = Shelf(
            ArrayEnd, "a shared array", attached, kinds)
        #: `write`, `read` of an mmap file
        self.mapped: Shelf[MappedEnd] = Shelf(
            MappedEnd, "a mapped file", attached, kinds)
        #: `write`, `read` of a page
        self.page: Shelf[PageEnd] = Shelf(
            PageEnd, "a page", attached, kinds)
        #: `read` of a window
        self.window: Shelf[WindowEnd] = Shelf(
            WindowEnd, "a window of a file", attached, kinds)
        #: `write`, `read`, `truncate`, `unlink` of a shm object
        self.shm: Shelf[ShmEnd] = Shelf(
            ShmEnd, "a shm object", attached, kinds)
        #: `write`, `read` of a file of records
        self.file: Shelf[FileEnd] = Shelf(
            FileEnd, "a file of records", attached, kinds)
        #: `call`
        self.rpc_client: Shelf[RpcClientEnd] = Shelf(
            RpcClientEnd, "an rpc client", attached, kinds)
        #: `serve`
        self.rpc_server: Shelf[RpcServerEnd] = Shelf(
            RpcServerEnd, "an rpc server", attached, kinds)
