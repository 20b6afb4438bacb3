"""`sleep`, `exit`, `repeat` and `spawn`: the steps that steer the worker itself.

`repeat` and `spawn` need the interpreter (nested steps, bursts, a new interpreter in
the child); they reach it as `row.runner`.
"""

from __future__ import annotations

from ipcviz.scenario import schema
from ipcviz.telemetry import table as T
from ipcviz.worker.boundary import Next
from ipcviz.worker.row import WorkerRow
from ipcviz.worker.signals import ExitRequested
from ipcviz.worker.steps.registry import describes, handles


@handles("sleep")
def sleep(row: WorkerRow, seconds: float) -> None:
    row.sleep(seconds)


@handles("exit")
def exit_now(row: WorkerRow, code: int) -> None:
    raise ExitRequested(code)


@handles("repeat")
def repeat(row: WorkerRow, args: schema.RepeatArgs) -> None:
    assert row.runner is not None
    row.runner.repeat(args)


@handles("spawn")
def spawn(row: WorkerRow, kid: str) -> None:
    assert row.runner is not None
    row.runner.spawn(kid)


@describes("sleep")
def describe_sleep(row: WorkerRow, seconds: float) -> Next:
    return (T.OP_SLEEP, -1, round(seconds * 1000))


@describes("exit")
def describe_exit(row: WorkerRow, code: int) -> Next:
    return (T.OP_CODE["exit"], -1, code)


@describes("spawn")
def describe_spawn(row: WorkerRow, kid: str) -> Next:
    return (T.OP_SPAWN, -1, list(row.ctx.definitions).index(kid))
