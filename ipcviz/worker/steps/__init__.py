"""Step handlers by family (one module each), registered by step kind.

A handler is `make(row, args) -> step`: called once per step when the worker compiles
its steps, it returns the zero-argument callable the worker loop calls each time the
step runs (hot kinds return a fast path; the others a plain call). Adding a step kind
means its entry in the table of kinds (ipcviz.scenario.kinds.STEPS) plus its handler,
registered with `@handles` or `@compiles` (registry.py), in the family module.
"""

from __future__ import annotations

from typing import Any

from ipcviz.scenario.kinds import STEPS
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps import (  # noqa: F401 (importing a family registers its kinds)
    control,
    messages,
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
