"""Where step handlers register by kind: `@handles("sleep")` on a plain function run
each time, or `@compiles("write")` on a function that returns the callable to run.

A handler module registers its kinds when imported; `steps/__init__.py` imports every
family and checks that each kind of the table (ipcviz.scenario.kinds.STEPS) has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ipcviz.worker.row import WorkerRow

Step = Callable[[], None]
Handler = Callable[[WorkerRow, Any], Step]
F = TypeVar("F", bound=Callable[..., Any])

#: step kind -> `make(row, args) -> step`, called once per step when a worker compiles
HANDLERS: dict[str, Handler] = {}


def _register(kind: str, make: Handler) -> None:
    if kind in HANDLERS:
        raise RuntimeError(f"two handlers for step kind {kind!r}")
    HANDLERS[kind] = make


def compiles(kind: str) -> Callable[[F], F]:
    """Register `make(row, args) -> step` for `kind` (a kind with a fast path)."""
    def register(make: F) -> F:
        _register(kind, make)
        return make
    return register


def handles(kind: str) -> Callable[[F], F]:
    """Register `fn(row, args)`, run as it is each time a step of `kind` runs."""
    def register(fn: F) -> F:
        _register(kind, lambda row, args: lambda: fn(row, args))
        return fn
    return register
