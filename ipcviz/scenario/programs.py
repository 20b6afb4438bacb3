"""Workers that run real programs (`exec:`): what the file may say about them, the channel
ends they hold, and the rule that a scenario file of the user's runs programs only when
asked to (`--allow-exec`): a scenario from someone else must not run commands unasked.
"""

from __future__ import annotations

from collections.abc import Iterator

from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import FD_STREAMS
from ipcviz.scenario.yamlpos import FieldPath

#: channel kinds a program's standard input or output can be
STREAM_KINDS = FD_STREAMS
#: worker options that belong to the step interpreter, not to a program
STEP_ONLY = ("handlers", "sa_flags", "block", "loop", "spawned")


def programs(model: s.Scenario) -> list[str]:
    """The worker definitions that run a program."""
    return [name for name, w in model.workers.items() if w.runs_program]


def exec_refusal(model: s.Scenario, bundled: bool, allow_exec: bool) -> str | None:
    """One line when the scenario runs programs and may not: a user's file without
    `--allow-exec`. Only a bundled scenario may: `bundled` says the very file these bytes
    were read from is a bundled one (opening.py: its device and inode), never what a path
    names now."""
    names = programs(model)
    if not names or allow_exec or bundled:
        return None
    attached = model.workers[names[0]].attach
    if attached is not None:
        return (f"worker '{names[0]}' watches process {attached.pid} (attach:), one of "
                f"yours; use `ipcviz watch --pid {attached.pid}` (or --allow-exec)")
    return (f"worker '{names[0]}' runs a program (exec:), which can do anything you can; "
            f"read the file, then run it with --allow-exec")


def exec_roles(worker: s.Worker) -> dict[str, set[str]]:
    """Channel -> roles a program's standard input and output give it."""
    roles: dict[str, set[str]] = {}
    if worker.stdin is not None:
        roles.setdefault(worker.stdin.from_, set()).add("read")
    if worker.stdout is not None:
        roles.setdefault(worker.stdout.to, set()).add("write")
    return roles


def check_programs(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """Cross-reference problems of `exec:` workers and of what aims at them."""
    spawned_defs = {step.args for w in scn.workers.values() for step in s.all_steps(w.steps)
                    if step.kind == "spawn"}
    for name, w in scn.workers.items():
        base: FieldPath = ("workers", name)
        if w.attach is not None:
            yield from _check_attached(base, w)
        elif w.exec is None:
            for option in ("cwd", "env", "stdin", "stdout", "trace", "ready"):
                if option in w.model_fields_set:
                    yield (base + (option,), f"'{option}' is for a worker that runs a "
                                             "program (exec:)")
        else:
            yield from _check_program(base, w, name in spawned_defs)
            yield from _check_std_links(scn, base, w)
    yield from _check_aimed_at_programs(scn)


def _check_program(base: FieldPath, w: s.Worker, spawned: bool
                   ) -> Iterator[tuple[FieldPath, str]]:
    """An `exec:` worker: no steps, no NUL in what the kernel takes as C strings, one
    process, and none of the options that only steps use."""
    if w.steps:
        yield (base + ("exec",), "a worker runs a program (exec:) or steps (steps:), "
                                 "not both")
    # the kernel takes C strings: a NUL ends them (execve would refuse at run time)
    for i, arg in enumerate(w.exec or ()):
        if "\0" in arg:
            yield (base + ("exec", i), "a NUL character cannot be passed to a program")
    if w.cwd is not None and "\0" in w.cwd:
        yield (base + ("cwd",), "a NUL character cannot be in a path")
    for key, value in (w.env or {}).items():
        if "\0" in str(value):
            yield (base + ("env", key), "a NUL character cannot be in an environment "
                                        "variable")
    if w.count != 1:
        yield (base + ("count",), "a program runs once per worker; write one worker "
                                  "per copy")
    if w.restart != "never":
        yield (base + ("restart",), "'restart' applies to steps; a program is not "
                                    "restarted by itself")
    for option in STEP_ONLY:
        if option in w.model_fields_set:
            yield (base + (option,), f"'{option}' applies to steps; a program sets "
                                     "up its own signals and loops")
    if spawned:
        yield (base + ("exec",), "a program cannot be spawned by a step; it runs as "
                                 "a worker of its own")


def _check_std_links(scn: s.Scenario, base: FieldPath, w: s.Worker
                     ) -> Iterator[tuple[FieldPath, str]]:
    """`stdin: {from: C}` and `stdout: {to: C}` name a pipe or FIFO of the file."""
    links = ((w.stdin.from_ if w.stdin else None, "stdin", "from"),
             (w.stdout.to if w.stdout else None, "stdout", "to"))
    for channel, option, field in links:
        if channel is None:
            continue
        spec = scn.channels.get(channel)
        if spec is None:
            yield (base + (option, field), f"unknown channel '{channel}' (channels: "
                   f"{', '.join(scn.channels) or 'none defined'})")
        elif spec.kind not in STREAM_KINDS:
            yield (base + (option, field), f"{option} can be a pipe or a fifo, "
                                           f"not {spec.kind} '{channel}'")


def _check_aimed_at_programs(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """Timeline and trigger actions that act on steps do not aim at a program, and a
    process ipcviz did not start is neither restarted nor signalled without leave."""
    runs = set(programs(scn))
    for section in ("timeline", "triggers"):
        for i, event in enumerate(getattr(scn, section)):
            action = event.action
            target = getattr(event, action)
            target = target.worker if action == "lock" else target
            if action in ("lock", "pause_steps", "resume_steps") and target in runs:
                yield ((section, i, action), f"'{action}' acts on steps; '{target}' runs "
                                             "a program")
            if action == "signal":
                target = target.to
            attached = scn.workers[target].attach if target in scn.workers else None
            if attached is not None and action == "restart":
                yield ((section, i, action), f"'{target}' is a process ipcviz did not "
                                             "start: it cannot restart it")
            elif attached is not None and not attached.signals and action != "lock":
                yield ((section, i, action), f"'{target}' is observed only: signalling "
                                             "it needs `signals: true` (watch "
                                             "--allow-signals)")


def check_signal_steps(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """A scripted worker's `signal` step may not aim at a process ipcviz did not start (its
    row carries no pid: the step could not reach it; the timeline and keys can, with
    `signals: true`)."""
    quiet = {name for name, w in scn.workers.items() if w.attach is not None}
    if not quiet:
        return
    for name, w in scn.workers.items():
        for step in s.all_steps(w.steps):  # (repeat's too: the path names the worker)
            if step.kind == "signal" and step.args.to in quiet:
                yield (("workers", name, "steps"),
                       f"'{step.args.to}' is a process ipcviz did not start: a `signal` "
                       "step cannot reach it (the timeline can, with `signals: true`)")


def _check_attached(base: FieldPath, w: s.Worker) -> Iterator[tuple[FieldPath, str]]:
    """An attached process (`attach:`) is observed as it is: nothing to start or set up."""
    for option in ("exec", "steps", "cwd", "env", "stdin", "stdout", "trace", "ready"):
        if option in w.model_fields_set:
            yield (base + (option,), f"'{option}' is for a worker ipcviz starts; this one "
                                     "watches a running process (attach:)")
    if w.count != 1:
        yield (base + ("count",), "one worker watches one process")
    if w.restart != "never":
        yield (base + ("restart",), "ipcviz cannot restart a process it did not start")
    for option in STEP_ONLY:
        if option in w.model_fields_set:
            yield (base + (option,), f"'{option}' applies to steps; a running process "
                                     "has its own")
