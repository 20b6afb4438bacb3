"""`truncate` and `unlink` on a POSIX shm object, and what `write` and `read` do on one
(channels/shm_object.py): the object is opened by its name, never inherited.

A write past the object's end is the lesson's SIGBUS: before the store the worker looks
at the object's size in the kernel, and when the byte it is about to touch lies on a page
past the end it says so in the event log (with the size), then touches it, and the kernel
ends it with SIGBUS. Nothing catches it: that is what the default action of SIGBUS does.
"""

from __future__ import annotations

import mmap

from ipcviz.channels.shm_object import ShmEnd
from ipcviz.scenario import schema
from ipcviz.scenario.models import TruncateArgs
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps.registry import describes, handles


def _endpoint(row: WorkerRow, name: str) -> ShmEnd:
    return row.ends.shm[name]


def write(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> None:
    """Store the bytes at `at`; a page past the object's end is said, then touched."""
    name, endpoint = args.to, _endpoint(row, args.to)
    try:
        mapped = len(endpoint.mapping())
        size = endpoint.size_now()
    except OSError as exc:
        raise row.failed(exc, T.OP_WRITE, name) from None
    page = mmap.PAGESIZE
    if args.at < mapped and args.at // page * page >= size:
        row.emit(EV.PAST_END, row.index(name), number=args.at, value=size)
    row.cells[row.counter(name, T.BYTES_WRITTEN)] += endpoint.write(bytes(view), args.at)


def read(row: WorkerRow, args: schema.ReadArgs) -> None:
    name, endpoint = args.from_, _endpoint(row, args.from_)
    try:
        data = endpoint.read(args.bytes)
    except OSError as exc:
        raise row.failed(exc, T.OP_READ, name) from None
    row.cells[row.counter(name, T.BYTES_READ)] += len(data)
    T.note_read(row.cells, row.counter(name, T.LAST_READ), data.split(b"\0", 1)[0])


@handles("truncate")
def truncate(row: WorkerRow, args: TruncateArgs) -> None:
    """ftruncate the object to `size` bytes: mappings keep their length, pages past the
    new end lose what was behind them."""
    try:
        _endpoint(row, args.shm).truncate(args.size)
    except OSError as exc:
        raise row.failed(exc, T.OP_CODE["truncate"], args.shm) from None
    row.emit(EV.TRUNCATED, row.index(args.shm), value=args.size)


@handles("unlink")
def unlink(row: WorkerRow, name: str) -> None:
    """shm_unlink: the name leaves /dev/shm; the object goes when no process maps it."""
    try:
        _endpoint(row, name).unlink()
    except Exception as exc:  # posix_ipc's errors are not OSError
        raise row.failed(OSError(getattr(exc, "errno", 0) or 2, str(exc)),
                         T.OP_CODE["unlink"], name) from None
    row.emit(EV.UNLINKED, row.index(name))


@describes("truncate")
def describe_truncate(row: WorkerRow, args: TruncateArgs) -> Next:
    return (T.OP_CODE["truncate"], row.index(args.shm), args.size)


@describes("unlink")
def describe_unlink(row: WorkerRow, name: str) -> Next:
    return (T.OP_CODE["unlink"], row.index(name), 0)
