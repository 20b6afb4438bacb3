"""Step handlers by family, and the one table that maps each step kind to its handler.

A handler is `make(row, args) -> step`: called once per step when the worker compiles
its steps, it returns the zero-argument callable the worker loop calls each time the
step runs (hot kinds return a fast path; the others a plain call). Adding a step kind
means one entry here plus its handler in the family module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps import control, messages, semaphores, shm, signalling, streams

Step = Callable[[], None]
Handler = Callable[[WorkerRow, Any], Step]


def _plain(fn: Callable[[WorkerRow, Any], None]) -> Handler:
    """A handler with no fast path: each run calls `fn(row, args)`."""
    return lambda row, args: lambda: fn(row, args)


HANDLERS: dict[str, Handler] = {
    # byte streams and mapped memory
    "write": streams.compile_write,
    "read": streams.compile_read,
    "echo": _plain(streams.echo),
    # messages
    "send": _plain(messages.send),
    "receive": _plain(messages.receive),
    # shared memory
    "increment": shm.compile_increment,
    "set": shm.compile_set,
    # semaphores
    "acquire": _plain(semaphores.acquire),
    "release": _plain(semaphores.release),
    # signals
    "signal": _plain(signalling.send_signal),
    "wait_signal": _plain(signalling.wait_signal),
    "block": _plain(signalling.block),
    "unblock": _plain(signalling.unblock),
    # control flow and processes
    "sleep": _plain(control.sleep),
    "exit": _plain(control.exit_now),
    "repeat": _plain(control.repeat),
    "spawn": _plain(control.spawn),
}


def compile_step(row: WorkerRow, kind: str, args: Any) -> Step:
    """The callable that runs one step of kind `kind` with `args` for this worker."""
    return HANDLERS[kind](row, args)
