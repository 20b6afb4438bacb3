"""An `interruptible` read: one blocking read(2) as a C program makes it, EINTR and all.

ipcviz's own reads wait in poll() on non-blocking descriptors, and Python's os.read
retries a read a signal interrupted (PEP 475): neither can show what SA_RESTART does. This
read is the C one: read(2) through libc (ctypes, the interpreter's lock let go) on a
blocking descriptor of the pipe's read end. A caught signal that arrives while it sleeps
runs CPython's C handler, and then:

- without SA_RESTART the kernel ends the call with EINTR: counted in the reader's
  INTERRUPTED_READS cell, logged, and the read is made again, as a C loop does;
- with SA_RESTART the kernel makes the call again itself; the program never sees it. The
  deliveries counted between the call and its return (the wakeup fd's bytes) are what
  the kernel restarted it for: counted in RESTARTED_READS.

The blocking descriptor is a new open file description of the same pipe, made through
/proc/self/fd (as channels/pipe.py reopens ends): clearing O_NONBLOCK on it leaves the
descriptor every other process shares non-blocking.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from collections.abc import Callable

from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.telemetry.ring_events import EventCode as EV
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.signals import ExitRequested

#: the libc the interpreter itself runs on (dlopen(NULL)): no search for it, which ran
#: `ldconfig` in a subprocess at every import
_libc = ctypes.CDLL(None, use_errno=True)
_read = _libc.read
_read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
_read.restype = ctypes.c_ssize_t


def blocking_copy(fd: int) -> int:
    """A blocking descriptor of the pipe or FIFO end `fd`, its own open file description."""
    copy = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    flags = fcntl.fcntl(copy, fcntl.F_GETFL)
    fcntl.fcntl(copy, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return copy


def compile_read(row: WorkerRow, args: schema.ReadArgs) -> Callable[[], None]:
    """The step: the descriptor is made on its first run (after fork, in the worker)."""
    fds: list[int] = []

    def run() -> None:
        if not fds:
            read_fd = row.ends.pipe[args.from_].read_fd
            assert read_fd is not None, "an interruptible read without a read end"
            with row.changing_descriptors():  # a new descriptor of the pipe
                fds.append(blocking_copy(read_fd))
        read(row, args, fds[0])
    return run


def read(row: WorkerRow, args: schema.ReadArgs, fd: int) -> None:
    """read(2) until it returns data or end of file, each EINTR counted and retried."""
    name, cells, signals = args.from_, row.cells, row.signals
    buffer = ctypes.create_string_buffer(args.bytes)
    interrupted = row.counter(name, T.INTERRUPTED_READS)
    while True:
        signals.drain()
        before = signals.total()
        with row.blocked(T.OP_READ, name, T.COUNTED_WHEN_READ_RETURNS):
            got = row.wait(_read, fd, buffer, args.bytes)
        err = ctypes.get_errno() if got < 0 else 0
        signals.drain()  # the deliveries during the call, counted now
        if got < 0:
            if err != errno.EINTR:
                raise row.failed(OSError(err, os.strerror(err)), T.OP_READ, name)
            cells[interrupted] += 1
            row.emit(EV.INTERRUPTED, row.index(name), count=cells[interrupted])
            continue
        if got == 0:
            row.emit(EV.EOF, row.index(name))
            raise ExitRequested(0)
        data = buffer.raw[:got]
        cells[row.counter(name, T.BYTES_READ)] += got
        T.note_read(cells, row.counter(name, T.LAST_READ), data)
        during = signals.total() - before
        if during:
            cells[row.counter(name, T.RESTARTED_READS)] += during
            row.emit(EV.RESTARTED, row.index(name), count=during)
        return
