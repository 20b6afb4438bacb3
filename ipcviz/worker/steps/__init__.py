"""Step handlers by family (one module each), registered by step kind.

A handler is `make(row, args) -> step`: called once per step when the worker compiles
its steps, it returns the zero-argument callable the worker loop calls each time the
step runs (hot kinds return a fast path; the others a plain call). Adding a step kind
means its entry in the table of kinds (ipcviz.scenario.kinds.STEPS) plus its handler,
registered with `@handles` or `@compiles` (registry.py), in the family module.
"""

from __future__ import annotations

from typing import Any

from ipcviz.scenario.kinds import RPC_METHODS, STEPS
from ipcviz.telemetry import table as T
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps import (  # noqa: F401 (importing a family registers its kinds)
    control,
    messages,
    rpc,
    semaphores,
    shm,
    signalling,
    streams,
)
from ipcviz.worker.steps.registry import HANDLERS, Handler, Step

__all__ = ["HANDLERS", "Handler", "Step", "compile_step"]

if set(HANDLERS) != set(STEPS):  # a kind in the table with no handler, or the reverse
    raise RuntimeError(f"step kinds without a handler: {sorted(set(STEPS) - set(HANDLERS))}; "
                       f"handlers of no kind: {sorted(set(HANDLERS) - set(STEPS))}")


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
    if kind == "write" and args.from_read is not None:  # size known only when it runs
        return (nx[kind], row.index(args.to), -1)
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
    if kind == "call":
        return (nx["call"], row.index(args.on), RPC_METHODS.index(args.method))
    if kind == "serve":
        return (nx["serve"], row.index(args), 0)
    if kind == "sleep":
        return (nx["sleep"], -1, round(args * 1000))
    if kind == "exit":
        return (nx["exit"], -1, args)
    return (0, -1, 0)
