"""Where step handlers register by kind: `@handles("sleep")` on a plain function run
each time, or `@compiles("write")` on a function that returns the callable to run; and
`@describes("sleep")` on a function saying what a worker held before such a step does
next, as data (an OP code of one of the kind's operations, the channel's index or -1,
a detail its words use: see `Op` in the table of kinds).

A handler module registers its kinds when imported; `steps/__init__.py` imports every
family and checks that each kind of the table (ipcviz.scenario.kinds.STEPS) has one,
and a describer when the table gives it operations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow

Step = Callable[[], None]
Handler = Callable[[WorkerRow, Any], Step]
Describer = Callable[[WorkerRow, Any], Next]
F = TypeVar("F", bound=Callable[..., Any])

#: step kind -> `make(row, args) -> step`, called once per step when a worker compiles
HANDLERS: dict[str, Handler] = {}
#: step kind -> `describe(row, args) -> Next`, called once per step at compile time
DESCRIBERS: dict[str, Describer] = {}


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


def describes(*kinds: str) -> Callable[[F], F]:
    """Register `describe(row, args) -> Next` for each of `kinds`."""
    def register(describe: F) -> F:
        for kind in kinds:
            if kind in DESCRIBERS:
                raise RuntimeError(f"two describers for step kind {kind!r}")
            DESCRIBERS[kind] = describe
        return describe
    return register
