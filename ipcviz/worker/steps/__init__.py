"""Step handlers by family (one module each), registered by step kind.

A handler is `make(row, args) -> step`: called once per step when the worker compiles
its steps, it returns the zero-argument callable the worker loop calls each time the
step runs (hot kinds return a fast path; the others a plain call). Adding a step kind
means its entry in the table of kinds (ipcviz.scenario.kinds.STEPS) plus its handler,
registered with `@handles` or `@compiles` (registry.py), and `@describes` when its entry
has operations, in the family module.
"""

from __future__ import annotations

from typing import Any

from ipcviz.scenario.kinds import STEPS
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.steps import (  # noqa: F401 (importing a family registers its kinds)
    control,
    messages,
    rpc,
    semaphores,
    shm,
    shm_names,
    signalling,
    streams,
)
from ipcviz.worker.steps.registry import DESCRIBERS, HANDLERS, Handler, Step

__all__ = ["HANDLERS", "Handler", "Step", "compile_step"]

if set(HANDLERS) != set(STEPS):  # a kind in the table with no handler, or the reverse
    raise RuntimeError(f"step kinds without a handler: {sorted(set(STEPS) - set(HANDLERS))}; "
                       f"handlers of no kind: {sorted(set(HANDLERS) - set(STEPS))}")
_OPERATING = {kind for kind, step in STEPS.items() if step.ops}
if set(DESCRIBERS) != _OPERATING:  # a kind with operations the `next` column cannot name
    raise RuntimeError(f"step kinds with operations but no describer: "
                       f"{sorted(_OPERATING - set(DESCRIBERS))}; describers of kinds with "
                       f"no operations: {sorted(set(DESCRIBERS) - _OPERATING)}")


def compile_step(row: WorkerRow, kind: str, args: Any) -> Step:
    """The callable that runs one step of kind `kind` with `args` for this worker."""
    return HANDLERS[kind](row, args)


def describe_step(row: WorkerRow, kind: str, args: Any) -> Next | None:
    """What a worker held before this step will do next, as data for the runtime
    (an OP code, channel index, detail); None for a kind with no operation of its own
    (`repeat`: its steps pass the boundary one by one)."""
    describe = DESCRIBERS.get(kind)
    if describe is None:
        return None
    return describe(row, args)
