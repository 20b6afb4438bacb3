"""Fast paths for `write` and `read` on a stream socket (a Unix or TCP connection).

The general step (streams.py) works out the channel's kind, looks up its counter cells
and hooks the endpoint's refusals at every call, which on a busy socket costs about as
much as the system call itself. Here all of that is done once, when the step is
compiled, and a call that moves bytes is one send() or recv() and the counter stores
after it, as in the pipe's fast path. Everything else (a full or empty socket, a
partial write, end of file, a broken connection) goes through the general step, which
waits, counts and reports exactly as before: the counts are made after the system call
that did the work, whichever path made it.
"""

from __future__ import annotations

from collections.abc import Callable

from ipcviz.channels.endpoints import StreamEnd
from ipcviz.scenario import schema
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.telemetry import table as T
from ipcviz.worker.row import WorkerRow

Step = Callable[[], None]


def _stream_endpoint(row: WorkerRow, name: str) -> StreamEnd | None:
    """The channel's endpoint when it is a stream socket's (Unix or TCP), else None."""
    kind = CHANNELS.get(row.ctx.channel_kinds.get(name, ""))
    if kind is None or kind.io != "socket":
        return None
    endpoint = row.ends.stream[name]
    return endpoint if getattr(endpoint, "byte_stream", False) else None


def fast_write(row: WorkerRow, args: schema.WriteArgs, slow: Step,
               write_rest: Callable[[memoryview], bool],
               watch: Callable[[StreamEnd], None]) -> Step | None:
    """A fixed payload written to a stream socket, or None (another kind, `every`, a
    payload that is what was read). `slow` is the general step (it tries again and
    waits for room), `write_rest(view)` writes the rest of a partial write, `watch`
    hooks the endpoint's refusals (done once here)."""
    if args.from_read is not None or args.every:
        return None
    endpoint = _stream_endpoint(row, args.to)
    if endpoint is None:
        return None
    watch(endpoint)
    payload = row.payload(args)
    raw, size, name, cells = bytes(payload), len(payload), args.to, row.cells
    cell = row.counter(name, T.BYTES_WRITTEN)
    writes_cell = row.counter(name, T.WRITES)
    last_written, write_some = row.last_written, endpoint.write_some

    def run() -> None:
        try:
            n = write_some(payload)
        except BrokenPipeError:  # the general step counts and reports it
            n = 0
        if n == size:  # all of it at once: the common case
            cells[cell] += n
            last_written[name] = raw
            cells[writes_cell] += 1
        elif n:
            cells[cell] += n
            if write_rest(payload[n:]):
                last_written[name] = raw
                cells[writes_cell] += 1
        else:
            slow()
    return run


def fast_read(row: WorkerRow, args: schema.ReadArgs, slow: Step,
              watch: Callable[[StreamEnd], None]) -> Step | None:
    """A read from a stream socket, or None (another kind, a worker that keeps what it
    reads or keeps a pipe end). Bytes read are counted here; no bytes (empty: the general
    step waits; end of file or a reset: it says so) go to `slow`, which reads again: an
    end of file stays one, and an empty socket read twice is still empty or has data."""
    name = args.from_
    if name in row.keep_reads or row.kept:
        return None
    endpoint = _stream_endpoint(row, name)
    if endpoint is None:
        return None
    watch(endpoint)
    nbytes, cells, read_some = args.bytes, row.cells, endpoint.read_some
    cell = row.counter(name, T.BYTES_READ)
    seen_cell = row.counter(name, T.LAST_READ)
    reads_cell = row.counter(name, T.READS)
    note_read = T.note_read

    def run() -> None:
        data = read_some(nbytes)
        if data:
            cells[cell] += len(data)
            note_read(cells, seen_cell, data)
            cells[reads_cell] += 1
        else:
            slow()
    return run
