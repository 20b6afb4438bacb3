"""Checks of the sigaction keys: `sa_flags:`, the `disposition` step, `interruptible` reads.

A flag acts on a handler the kernel runs, so it needs a catching action in `handlers:`
(SIG_IGN and SIG_DFL have no handler to restart after or reset); a `disposition` step
that puts the handler back needs one too; an `interruptible` read is read(2) on a pipe or
FIFO and it blocks (that is the point: what a signal does to a sleeping read).
"""

from __future__ import annotations

from collections.abc import Iterator

from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import STEPS
from ipcviz.scenario.yamlpos import FieldPath
from ipcviz.signals import UNCATCHABLE, signal_name

#: the `handlers:` actions that install a handler (the others are SIG_IGN / SIG_DFL)
CATCHING = frozenset({"count", "exit", "log", "reap"})
#: the channel kinds an `interruptible` read works on
INTERRUPTIBLE_KINDS = ("pipe", "fifo")


def check_sigaction(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """Yield (path, message) for each misuse of the sigaction keys."""
    for wname, w in scn.workers.items():
        base = ("workers", wname)
        caught = {sig for sig, action in w.handlers.items() if action in CATCHING}
        for sig, flags in w.sa_flags.items():
            here = base + ("sa_flags", signal_name(sig))
            if sig not in caught:
                yield (here, f"{signal_name(sig)} has no handler for its flags to act on: "
                             f"give it one in handlers (`{signal_name(sig)}: count`)")
            for i, flag in enumerate(flags):
                if flag in flags[:i]:
                    yield (here + (i,), f"{flag} is given twice")
        for path, step in walk_steps(w.steps, base + ("steps",)):
            if step.kind == "disposition":
                here = path + ("disposition", "sig")
                sig = step.args.sig
                if sig in UNCATCHABLE:
                    yield (here, f"{signal_name(sig)} cannot be caught, blocked or ignored")
                elif step.args.action == "handler" and sig not in caught:
                    yield (path + ("disposition", "action"),
                           f"{signal_name(sig)} has no handler to put back: give it one in "
                           f"handlers (`{signal_name(sig)}: count`)")
            elif step.kind == "read" and step.args.interruptible:
                here = path + ("read",)
                channel = scn.channels.get(step.args.from_)
                if (channel is not None and channel.kind not in INTERRUPTIBLE_KINDS
                        and channel.kind in STEPS["read"].channels):  # (else: said already)
                    yield (here + ("from",), "an interruptible read is read(2) on a pipe or "
                                             f"fifo; '{step.args.from_}' is a {channel.kind}")
                if not step.args.block:
                    yield (here + ("block",), "an interruptible read blocks (block: false "
                                              "would never sleep for a signal to interrupt)")


def walk_steps(steps: list[s.Step], base: FieldPath) -> Iterator[tuple[FieldPath, s.Step]]:
    """Each step with its path, the steps nested in `repeat`s too."""
    for j, step in enumerate(steps):
        yield base + (j,), step
        if step.kind == "repeat":
            yield from walk_steps(step.args.steps, base + (j, "repeat", "steps"))
