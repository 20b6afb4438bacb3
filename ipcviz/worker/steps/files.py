"""`write` and `read` on a `file` channel: records appended in two pieces, read from the
reader's own offset, torn reads counted (channels/file_channel.py has the format)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.row import WorkerRow

#: how often a blocking read looks at the file again (a regular file never "blocks")
POLL_S = 0.01


def _locker(row: WorkerRow, op: int, name: str) -> Callable[[Callable[[], None]], None]:
    """Take a flock, shown as blocked on `op` while the kernel makes the worker wait."""
    def take(lock: Callable[[], None]) -> None:
        with row.blocked(op, name):
            row.wait(lock)
    return take


def write_record(row: WorkerRow, name: str, payload: bytes) -> None:
    endpoint = row.ends.file[name]
    try:
        n = endpoint.write_record(payload, row.sleep, _locker(row, T.OP_WRITE, name))
    except OSError as exc:
        raise row.failed(exc, T.OP_WRITE, name) from None
    cells = row.cells
    cells[row.counter(name, T.BYTES_WRITTEN)] += n
    cells[row.counter(name, T.RECORDS_WRITTEN)] += 1


def read_records(row: WorkerRow, args: schema.ReadArgs) -> None:
    """Take the whole records after this reader's offset; a half-written one after them
    is a torn read (counted, logged, left for the next read). A blocking read that finds
    nothing waits for a writer, and returns empty once none is left (end of file)."""
    name = args.from_
    endpoint = row.ends.file[name]
    locker = _locker(row, T.OP_READ, name)
    last_look = False
    while True:
        sizes, torn, seen = endpoint.read_records(args.bytes, locker)
        if seen or not args.block or last_look:
            break
        if not endpoint.writers_left():
            last_look = True  # the last writer may have appended just before it ended
            continue
        with row.blocked(T.OP_READ, name):
            row.wait(time.sleep, POLL_S)
    cells = row.cells
    cells[row.counter(name, T.BYTES_READ)] += sum(sizes)
    cells[row.counter(name, T.RECORDS_READ)] += len(sizes)
    if torn:
        cells[row.counter(name, T.TORN_READS)] += 1
        row.emit(EV.TORN_READ, row.index(name), count=seen - sum(sizes) - 12 * len(sizes))
