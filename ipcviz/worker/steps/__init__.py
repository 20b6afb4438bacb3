"""Step handlers by family, and the one table that maps each step kind to its handler.

A handler is `make(row, args) -> step`: called once per step when the worker compiles
its steps, it returns the zero-argument callable the worker loop calls each time the
step runs (hot kinds return a fast path; the others a plain call). Adding a step kind
means one entry here plus its handler in the family module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ipcviz.telemetry import table as T
from ipcviz.worker.boundary import Next
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


def describe_step(row: WorkerRow, kind: str, args: Any) -> Next | None:
    """What a worker held before this step will do next, as data for the runtime
    (T.NEXT_KINDS index, channel index, detail); None for `repeat`, which is no operation
    of its own (its steps pass the boundary one by one)."""
    nx = T.NEXT
    if kind == "repeat":
        return None
    if kind in ("write", "send"):
        return (nx[kind], row.index(args.to), len(row.payload(args)))
    if kind in ("read", "receive"):
        return (nx[kind], row.index(args.from_), getattr(args, "bytes", 0))
    if kind == "increment":
        return shm.first_operation(row, args)
    if kind == "set":
        index = shm.flat_index(args.index, row.ctx.endpoints[args.array].values.shape)
        return (nx["set"], row.index(args.array), -1 if index is None else index)
    if kind in ("acquire", "release"):
        return (nx[kind], row.index(args), 0)
    if kind == "signal":
        return (nx["signal"], -1, args.sig)
    if kind == "wait_signal":
        return (nx["wait_signal"], -1, args)
    if kind in ("block", "unblock"):
        return (nx[kind], -1, args[0] if args else 0)
    if kind == "spawn":
        return (nx["spawn"], -1, list(row.ctx.definitions).index(args))
    if kind == "echo":
        return (nx["echo"], row.index(args.on), args.bytes)
    if kind == "sleep":
        return (nx["sleep"], -1, round(args * 1000))
    if kind == "exit":
        return (nx["exit"], -1, args)
    return (0, -1, 0)
