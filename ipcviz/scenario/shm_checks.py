"""Checks of what steps do to a shm object (channels/shm_object.py): `write`'s `at` is
an offset into one, inside the size it is made with (a worker's mapping is as long as the
object when the worker first opens it; the pages a truncation removes are still in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ipcviz.scenario import schema as s
from ipcviz.scenario.sigaction_checks import walk_steps
from ipcviz.scenario.yamlpos import FieldPath


def check_shm_objects(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """Yield (path, message) for each `at` that is not an offset into a shm object."""
    for wname, w in scn.workers.items():
        for path, step in walk_steps(w.steps, ("workers", wname, "steps")):
            if step.kind != "write" or not step.args.at:
                continue
            here = path + ("write", "at")
            # (Any: the kinds mypy knows, schema.Channel, need not list every kind)
            channel: Any = scn.channels.get(step.args.to)
            if channel is None:
                continue  # (an unknown channel is said already)
            if channel.kind != "shm":
                yield (here, f"'at' is an offset into a shm object; '{step.args.to}' is a "
                             f"{channel.kind}")
            elif step.args.at >= channel.size:
                yield (here, f"offset {step.args.at} is past the end of '{step.args.to}' "
                             f"({channel.size} B as made): no mapping of it reaches there")
