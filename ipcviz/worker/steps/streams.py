"""`write`, `read` and `echo`: byte streams (pipes, FIFOs, sockets) and mapped memory
(mmap files and pages; a `read` of a shared array takes a copy of it).

Pipe and FIFO steps get a fast path: one system call and one counter store when the
whole write fits or some bytes are there to read, the general loop otherwise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from ipcviz.channels.page import PageEnd
from ipcviz.channels.peers import Outsider, Refusals
from ipcviz.channels.window import WindowEnd
from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.boundary import Next
from ipcviz.worker import eintr
from ipcviz.scenario.kinds import CHANNELS, FD_STREAMS, STEPS
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.signals import ExitRequested
from ipcviz.worker.steps import files, shm_names, socket_steps
from ipcviz.worker.steps.registry import compiles, describes, handles

Step = Callable[[], None]
#: the kinds whose descriptors the fast paths write and read directly (pipe, fifo)
STREAM_KINDS = FD_STREAMS
#: the EPIPE counts at which an event is logged too (the counter has every one)
EPIPE_EVENTS = (1, 10, 100, 1000, 10000)
#: pause after a write failed with EPIPE, so a looping writer does not spin
EPIPE_BACKOFF = 0.05
#: how often a worker that keeps a pipe end (`keeps:`) looks, while it waits in a read or
#: a write, whether it has been asked to close it
KEPT_LOOK_MS = 50


# ---------------------------------------------------------------- write

@compiles("write")
def compile_write(row: WorkerRow, args: schema.WriteArgs) -> Step:
    if row.ctx.channel_kinds.get(args.to) in STREAM_KINDS and args.from_read is None:
        fast = _fast_write(row, args)
        if fast is not None:
            return fast
    socket_fast = socket_steps.fast_write(
        row, args, lambda: write(row, args), lambda view: write_all(row, args.to, view),
        lambda endpoint: watch_refusals(row, args.to, endpoint))
    if socket_fast is not None:
        return socket_fast
    return lambda: write(row, args)


def write(row: WorkerRow, args: schema.WriteArgs) -> None:
    if args.from_read is not None:  # what it really received, not a fixed text
        view = memoryview(row.last_read.get(args.from_read, b""))
        if not view:
            return
    else:
        view = row.payload(args)
    io = CHANNELS[row.ctx.channel_kinds[args.to]].io
    if WRITERS[io](row, args, view) and args.every:
        row.sleep(args.every)


def _write_shm(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    shm_names.write(row, args, view)  # a POSIX shm object, by its name (it paces itself)
    return False


def _write_mapped(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    row.cells[row.counter(args.to, T.BYTES_WRITTEN)] += row.ends.mapped[args.to].write(view)
    return True


def _write_page(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    endpoint = row.ends.page[args.to]
    row.cells[row.counter(args.to, T.BYTES_WRITTEN)] += endpoint.write(view)
    note_page_access(row, args.to, endpoint)
    return True


def _write_file(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    files.write_record(row, args.to, bytes(view))
    return True


def _write_stream(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    """Every byte, waiting for room; False when no reader is left."""
    if not write_all(row, args.to, view):
        return False
    row.last_written[args.to] = _whole_bytes(view)
    return True


def _write_socket(row: WorkerRow, args: schema.WriteArgs, view: memoryview) -> bool:
    """A stream write that is also one write call (one datagram, on a datagram socket)."""
    watch_refusals(row, args.to, row.ends.stream[args.to])
    if not _write_stream(row, args, view):
        return False
    row.cells[row.counter(args.to, T.WRITES)] += 1
    return True


#: per way of moving bytes (`ChannelKind.io`): how a `write` step writes `view`, True
#: when it wrote (so its `every` pause follows)
WRITERS: dict[str, Callable[[WorkerRow, schema.WriteArgs, memoryview], bool]] = {
    "stream": _write_stream, "socket": _write_socket, "mapped": _write_mapped,
    "page": _write_page, "file": _write_file, "shm": _write_shm}


def _whole_bytes(view: memoryview) -> bytes:
    """The bytes `view` shows: the object it was made from when that is all of it (a
    step's payload, made once), a copy otherwise: copying a big block at every write
    was a good part of what a write to a socket cost."""
    obj = view.obj
    if type(obj) is bytes and len(obj) == view.nbytes:
        return obj
    return bytes(view)


def note_page_access(row: WorkerRow, name: str, endpoint: PageEnd) -> None:
    """After an access to a page: the address this process used and the frame behind it
    now (channels/page.py), the frame of its first access kept as well."""
    cells = row.cells
    cells[row.counter(name, T.PAGE_ADDRESS)] = endpoint.address
    frame = endpoint.frame()
    if not cells[row.counter(name, T.FIRST_FRAME)]:
        cells[row.counter(name, T.FIRST_FRAME)] = frame
    cells[row.counter(name, T.LAST_FRAME)] = frame


def touch_window(row: WorkerRow, name: str, endpoint: WindowEnd, nbytes: int) -> None:
    """Touch `nbytes` of a window page by page (channels/window.py), then record what the
    kernel says of it: the mapping's resident pages, and the faults the touching took."""
    from ipcviz.channels.window import faults, rss_pages

    cells = row.cells
    minor, major = faults()
    n = endpoint.touch(nbytes)
    minor_after, major_after = faults()
    resident = rss_pages(endpoint.address)
    cells[row.counter(name, T.PAGE_ADDRESS)] = endpoint.address
    cells[row.counter(name, T.READ_FAULTS)] += minor_after - minor + major_after - major
    cells[row.counter(name, T.READ_MAJOR_FAULTS)] += major_after - major
    cells[row.counter(name, T.RSS_PAGES)] = -1 if resident is None else resident
    cells[row.counter(name, T.PAGES_TOUCHED)] = endpoint.pages_touched()
    cells[row.counter(name, T.BYTES_READ)] += n


def watch_refusals(row: WorkerRow, name: str, endpoint: object) -> None:
    """Count every peer from outside the run that the socket or rpc endpoint `endpoint`
    refused (channels/peers.py), and log the first ten and then one at each power of ten
    (a flood of datagrams must not flood the log)."""
    refusals: Refusals | None = getattr(endpoint, "refusals", None)
    if refusals is None or refusals.hook is not None:
        return
    cells, cell, index = row.cells, row.counter(name, T.PEERS_REFUSED), row.index(name)

    def refused(who: Outsider, datagram: bool) -> None:
        cells[cell] += 1
        if cells[cell] <= 10 or cells[cell] in EPIPE_EVENTS:
            row.emit(EV.PEER_REFUSED, index, uid=-1 if who.uid is None else who.uid,
                     pid=who.pid or -1, reason=datagram)
    refusals.report_to(refused)


def write_all(row: WorkerRow, name: str, view: memoryview) -> bool:
    """Write every byte of `view`, waiting for room (shown as blocked), counting as it
    goes; False when the pipe has no reader left (counted, logged, after a pause)."""
    endpoint = row.ends.stream[name]
    cells, cell = row.cells, row.counter(name, T.BYTES_WRITTEN)
    while view:
        try:
            n = endpoint.write_some(view)
        except BrokenPipeError:  # SIGPIPE is ignored or handled: the error is what remains
            _broken_pipe(row, name)
            return False
        if n:
            cells[cell] += n
            view = view[n:]
        else:
            with row.blocked(T.OP_WRITE, name):
                if row.kept:  # a `close` may come while it waits: look every so often
                    row.wait(endpoint.wait_writable, KEPT_LOOK_MS)
                    row.close_kept_if_asked()
                else:
                    row.wait(endpoint.wait_writable)
    return True


def _broken_pipe(row: WorkerRow, name: str) -> None:
    cells, cell = row.cells, row.base + T.EPIPE
    cells[cell] += 1
    failures = cells[cell]
    if failures in EPIPE_EVENTS:
        row.emit(EV.EPIPE, row.index(name), count=failures)
    row.wait(time.sleep, EPIPE_BACKOFF)


def _fast_write(row: WorkerRow, args: schema.WriteArgs) -> Step | None:
    endpoint, payload = row.ends.pipe[args.to], row.payload(args)
    write_fd = endpoint.write_fd
    if write_fd is None or args.every:
        return None
    size, cells = len(payload), row.cells
    cell = row.counter(args.to, T.BYTES_WRITTEN)
    last_written = row.last_written
    name, raw = args.to, bytes(payload)
    os_write = os.write

    def run() -> None:
        try:
            n = os_write(write_fd, payload)
        except (BlockingIOError, BrokenPipeError):
            n = 0
        if n == size:  # all of it at once: the common case
            cells[cell] += n
            last_written[name] = raw
        elif n:
            cells[cell] += n
            if write_all(row, name, payload[n:]):
                last_written[name] = raw
        else:
            write(row, args)
    return run


# ---------------------------------------------------------------- read

def fast_read_fd(row: WorkerRow, args: schema.ReadArgs) -> int | None:
    """The descriptor a pipe or FIFO read may use directly, or None: another kind, or a
    worker that also writes to the channel (its reads must look for its own bytes)."""
    if row.ctx.channel_kinds.get(args.from_) not in STREAM_KINDS or args.interruptible:
        return None
    own = row.ctx.own_roles(args.from_)
    if own is None or "write" in own or args.from_ in row.keep_reads or row.kept:
        return None
    return row.ends.pipe[args.from_].read_fd


@compiles("read")
def compile_read(row: WorkerRow, args: schema.ReadArgs) -> Step:
    if args.interruptible:  # one read(2) as C makes it: EINTR or restarted (eintr.py)
        return eintr.compile_read(row, args)
    read_fd = fast_read_fd(row, args)
    if read_fd is None:
        return socket_steps.fast_read(
            row, args, lambda: read(row, args),
            lambda endpoint: watch_refusals(row, args.from_, endpoint)
        ) or (lambda: read(row, args))
    nbytes, cells = args.bytes, row.cells
    cell = row.counter(args.from_, T.BYTES_READ)
    seen_cell = row.counter(args.from_, T.LAST_READ)
    os_read = os.read

    def run() -> None:
        try:
            data = os_read(read_fd, nbytes)
        except BlockingIOError:
            read(row, args)
            return
        if data:
            cells[cell] += len(data)
            T.note_read(cells, seen_cell, data)
        else:
            read(row, args)  # end of file: the slow path says so and ends the worker
    return run


def read(row: WorkerRow, args: schema.ReadArgs) -> None:
    READERS[CHANNELS[row.ctx.channel_kinds[args.from_]].io](row, args)


def _read_mapped(row: WorkerRow, args: schema.ReadArgs) -> None:
    data = row.ends.mapped[args.from_].read(args.bytes)
    row.cells[row.counter(args.from_, T.BYTES_READ)] += len(data)


def _read_window(row: WorkerRow, args: schema.ReadArgs) -> None:
    touch_window(row, args.from_, row.ends.window[args.from_], args.bytes)


def _read_page(row: WorkerRow, args: schema.ReadArgs) -> None:
    name, endpoint, cells = args.from_, row.ends.page[args.from_], row.cells
    data = endpoint.read(args.bytes)
    cells[row.counter(name, T.BYTES_READ)] += len(data)
    T.note_read(cells, row.counter(name, T.LAST_READ), data)
    note_page_access(row, name, endpoint)


def _read_array(row: WorkerRow, args: schema.ReadArgs) -> None:
    """An extension: take a copy of the whole array."""
    copy = row.ends.array[args.from_].values.copy()
    row.cells[row.counter(args.from_, T.BYTES_READ)] += copy.nbytes
    row.emit(EV.READ_ARRAY, row.index(args.from_), value=int(copy.sum()))


def _read_socket(row: WorkerRow, args: schema.ReadArgs) -> None:
    watch_refusals(row, args.from_, row.ends.stream[args.from_])
    _read_stream(row, args, calls=True)


def _read_stream(row: WorkerRow, args: schema.ReadArgs, calls: bool = False) -> None:
    """What is there (up to `args.bytes`), waiting for some unless it must not block; the
    end of the stream ends the worker. `calls`: each read is counted too (a socket's)."""
    name = args.from_
    endpoint = row.ends.stream[name]
    cells = row.cells
    while True:
        data = endpoint.read_some(args.bytes)
        if data is None:
            if not args.block:
                return
            with row.blocked(T.OP_READ, name):
                if row.kept:  # a `close` may come while it waits: look every so often
                    row.wait(endpoint.wait_readable, KEPT_LOOK_MS)
                    row.close_kept_if_asked()
                else:
                    row.wait(endpoint.wait_readable)
            continue
        if not data:
            row.emit(EV.EOF, row.index(name))
            raise ExitRequested(0)
        cells[row.counter(name, T.BYTES_READ)] += len(data)
        T.note_read(cells, row.counter(name, T.LAST_READ), data)
        if calls:
            cells[row.counter(name, T.READS)] += 1
        if name in row.keep_reads:
            row.last_read[name] = data
        if row.ctx.channel_kinds[name] in STREAM_KINDS and data == row.last_written.get(name):
            # its own message came back out of a shared one-way buffer
            cells[row.base + T.SELF_READS] += 1
            row.emit(EV.SELF_READ, row.index(name), count=len(data))
        return


#: per way of moving bytes (`ChannelKind.io`): how a `read` step reads
READERS: dict[str, Callable[[WorkerRow, schema.ReadArgs], None]] = {
    "stream": _read_stream, "socket": _read_socket, "mapped": _read_mapped,
    "page": _read_page, "window": _read_window, "file": files.read_records,
    "shm": shm_names.read, "array": _read_array}

for _step, _ways in (("write", WRITERS), ("read", READERS)):
    for _kind in STEPS[_step].channels:  # every kind a step may name has its way here
        if CHANNELS[_kind].io not in _ways:
            raise RuntimeError(f"`{_step}` knows no io {CHANNELS[_kind].io!r} ({_kind!r})")


# ---------------------------------------------------------------- echo

@handles("echo")
def echo(row: WorkerRow, args: schema.EchoArgs) -> None:
    """Server side: read from whichever client has data and write it back to it."""
    name = args.on
    endpoint = row.ends.stream[name]
    cells = row.cells
    watch_refusals(row, name, endpoint)
    data = endpoint.read_some(args.bytes)
    while data is None:
        with row.blocked(T.OP_ECHO, name):
            row.wait(endpoint.wait_readable, 200)
        data = endpoint.read_some(args.bytes)
    cells[row.base + T.OP] = T.OP_RUNNING
    cells[row.counter(name, T.BYTES_READ)] += len(data)
    T.note_read(cells, row.counter(name, T.LAST_READ), data)
    if name in row.keep_reads:
        row.last_read[name] = data
    written = row.counter(name, T.BYTES_WRITTEN)
    view = memoryview(data)
    while view:
        n = endpoint.write_some(view)
        if n:
            cells[written] += n
            view = view[n:]
        else:
            row.wait(endpoint.wait_writable, 200)



@describes("write")
def describe_write(row: WorkerRow, args: schema.WriteArgs) -> Next:
    if args.from_read is not None:  # size known only when it runs
        return (T.OP_WRITE, row.index(args.to), -1)
    return (T.OP_WRITE, row.index(args.to), len(row.payload(args)))


@describes("read")
def describe_read(row: WorkerRow, args: schema.ReadArgs) -> Next:
    return (T.OP_READ, row.index(args.from_), getattr(args, "bytes", 0))


@describes("echo")
def describe_echo(row: WorkerRow, args: schema.EchoArgs) -> Next:
    return (T.OP_ECHO, row.index(args.on), args.bytes)
