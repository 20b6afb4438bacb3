"""Checks of the time-control keys: `speed` is one of the speeds, `schedule` names worker
processes the runtime starts (the CLI's --schedule is checked with the same function)."""

from __future__ import annotations

from collections.abc import Iterator

from ipcviz.scenario import schema as s
from ipcviz.scenario.refs import Unsure, instance_names
from ipcviz.scenario.yamlpos import FieldPath


SPEED_TEXT = "1, 0.5, 0.25, 0.125, 0.0625, 0.03125 or 0.015625"


def schedule_problems(entries: list[str], workers: dict[str, s.Worker],
                      unsure: Unsure | None = None) -> Iterator[tuple[int, str]]:
    """(entry index, what is wrong) for each entry of a schedule that does not name one
    worker process the runtime starts and holds between steps (not a program: the CLI's
    --schedule is checked with this too)."""
    names = [n for g, w in workers.items() if not w.spawned for n in instance_names(g, w)]
    if len(entries) > s.MAX_SCHEDULE:
        yield (s.MAX_SCHEDULE, f"{len(entries)} entries; the limit is {s.MAX_SCHEDULE:,}")
        return
    for i, entry in enumerate(entries):
        worker = workers.get(entry)
        if worker is not None and worker.runs_program:
            what = "watches a running process (attach:)" if worker.attach is not None \
                else "runs a program (exec:)"
            yield (i, f"'{entry}' {what}: it has no step boundary to hold it at, so a "
                      "schedule cannot give it turns (name workers with steps)")
            continue
        if entry in names or (unsure is not None and unsure.worker(entry)):
            continue
        if worker is not None and worker.spawned:
            yield (i, f"'{entry}' is only started by `spawn`; a schedule names workers the "
                      "runtime starts")
        elif worker is not None:
            yield (i, f"'{entry}' has {worker.count} replicas; name one "
                      f"({', '.join(instance_names(entry, worker)[:3])}, ...)")
        else:
            known = unsure.declared(names, True) if unsure is not None else names
            yield (i, f"unknown worker '{entry}' (workers: {', '.join(known)})")


def check_time(scn: s.Scenario, groups: dict[str, list[str]], unsure: Unsure
                ) -> Iterator[tuple[FieldPath, str]]:
    """`schedule` names real worker processes; `speed` is one of the speeds."""
    if scn.speed not in {1 / 2 ** k for k in range(7)}:
        yield (("speed",), f"{scn.speed} is not a speed (use {SPEED_TEXT})")
    if scn.schedule is None:
        return
    as_list = isinstance(scn.schedule, list)
    entries = (scn.schedule if isinstance(scn.schedule, list)
               else scn.schedule.replace(",", " ").split())
    if not entries:
        yield (("schedule",), "is empty; name at least one worker (or leave it out)")
    for i, problem in schedule_problems(entries, scn.workers, unsure):
        yield (("schedule", i) if as_list else ("schedule",),
               problem if as_list else f"entry {i}: {problem}")
