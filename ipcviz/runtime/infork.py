"""What a fresh fork of the runtime does to become a worker: join the run's containment,
drop the runtime's signals and file descriptors, then run the worker's steps or exec its
program. Nothing here returns: the fork ends in `os._exit` or an exec.
"""

from __future__ import annotations

import os
import signal
import traceback
from dataclasses import dataclass
from typing import NoReturn

from ipcviz.host.process import ProcessIdentity, allow_tracer, die_with_parent
from ipcviz.runtime.procs import Proc
from ipcviz.runtime.programs import become_program, channel_environment, working_directory
from ipcviz.runtime.run_objects import RunObjects
from ipcviz.scenario.load import LoadedScenario
from ipcviz.telemetry.table import changing_descriptors
from ipcviz.worker.interpreter import Interpreter, WorkerContext
from ipcviz.worker.signals import reset_all_dispositions

#: the exit status of a fork that failed before its worker ran (a defect, logged)
_FAILED = 70


@dataclass(frozen=True)
class ForkPlan:
    """What the parent worked out for one fork before forking."""

    proc: Proc
    #: the file descriptors the worker keeps (its channel ends, the gate, the slots)
    keep: frozenset[int]
    log_path: str
    nice: int
    #: the write ends of a program's stdout and stderr pipes (none for a worker)
    outputs: tuple[int, ...]
    #: the start gate's read end, while the run has not started
    gate: int | None
    #: the runtime's identity, for a worker's signal to `parent`
    runtime: ProcessIdentity
    #: the program's argv (`exec:`), resolved before the run
    argv: list[str] | None


def run_in_fork(plan: ForkPlan, objects: RunObjects, scenario: LoadedScenario) -> NoReturn:
    """In the fork (its signal mask is set once its handlers are in place): become the
    worker, and exit with its status."""
    code = _FAILED
    definition = plan.proc.instance.definition
    if objects.containment is not None:  # before anything of it can fork
        objects.containment.join()
    if definition.exec is not None and definition.trace:
        try:  # first of all: strace (the runtime's child) attaches at once
            allow_tracer(os.getppid())
        except OSError:
            pass
    table = objects.need_table()
    try:
        # the runtime's descriptors closed, the worker's own opened: its row's descriptor
        # generation odd meanwhile (a program's stays odd: it is read on every frame)
        with changing_descriptors(table.cells, table.row_base(plan.proc.row)):
            become_worker(plan.keep, plan.log_path, plan.nice)
            if definition.exec is not None:  # a real program: exec it (never returns)
                assert plan.argv is not None
                _become_program(plan, objects, scenario, plan.argv)
            context = _context(plan, objects, scenario)
        code = Interpreter(context).run()
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _context(plan: ForkPlan, objects: RunObjects, scenario: LoadedScenario) -> WorkerContext:
    """What the worker's interpreter runs with: its endpoints, rows and definitions."""
    proc, channels = plan.proc, objects.channels
    assert objects.slots is not None
    endpoints = {name: objects.channel_by_name[name].attach(set(roles))
                 for name, roles in proc.roles.items()}
    return WorkerContext(
        name=proc.name, definition=proc.instance.definition, row=proc.row,
        table=objects.need_table(), endpoints=endpoints,
        channel_index={c.name: c.index for c in channels},
        runtime=plan.runtime, gate_fd=plan.gate,
        spawn_rows=proc.spawn_rows, definitions=dict(scenario.model.workers),
        plan=scenario.plan,
        channel_kinds={c.name: c.kind for c in channels},
        definition_name=proc.instance.group,
        process_slots=objects.slots.fds,
    )


def _become_program(plan: ForkPlan, objects: RunObjects, scenario: LoadedScenario,
                    argv: list[str]) -> None:
    """Become the worker's program, its stdin/stdout wired to channels."""
    definition = plan.proc.instance.definition
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPCVIZ_")}
    env.update(channel_environment(objects.channels))
    env.update(definition.env)
    if objects.containment is not None:  # how tracking finds what it starts
        env.update(objects.containment.environment())
    stdin = _stream(objects, definition.stdin.from_ if definition.stdin else None, "read")
    stdout = _stream(objects, definition.stdout.to if definition.stdout else None, "write")
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    become_program(argv, working_directory(definition, scenario.path), env,
                   *stdin, *stdout, plan.outputs[0], plan.outputs[1], plan.gate)


def _stream(objects: RunObjects, channel_name: str | None, role: str
            ) -> tuple[int | None, str | None]:
    """A program's standard stream wired to a channel: (the end's fd, None) for a pipe,
    (None, its path) for a FIFO, which the program opens as a plain program would."""
    if channel_name is None:
        return None, None
    channel = objects.channel_by_name[channel_name]
    if channel.kind == "fifo":
        return None, getattr(channel, "path", None)
    return getattr(channel, "fds", {}).get(role), None


def become_worker(keep: frozenset[int], log_path: str, nice: int) -> None:
    """In a fresh fork: default signals, die with the runtime, private stdio, no stray fds."""
    reset_all_dispositions()
    if not die_with_parent(signal.SIGKILL):  # the runtime died before prctl took effect
        os._exit(1)
    try:  # below the runtime: it must keep its CPU however many of us are busy
        os.nice(nice)
    except OSError:
        pass
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(log, 2)
    low = 3
    for fd in sorted(keep | {0, 1, 2}):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 65536)
