"""`keeps:` and the `close` action: a worker that keeps a pipe end its steps never use.

After `pipe()` and `fork()` every process holds both ends; a careful child closes the end
it does not use. A worker with `keeps: {p: write}` does not close its copy of `p`'s write
end, the classic bug (its own reads of `p` never see end-of-file), until a `close`
action (a key or a timeline entry) makes it close what it kept. Only an inherited end
can be kept: a pipe's (a FIFO is opened by path, by each worker for itself).
"""

from __future__ import annotations

from collections.abc import Iterator

from ipcviz.scenario import schema as s
from ipcviz.scenario.plan import channel_roles
from ipcviz.scenario.refs import Unsure, instance_names
from ipcviz.scenario.yamlpos import FieldPath

__all__ = ["check_keeps"]


def check_keeps(scn: s.Scenario, unsure: Unsure) -> Iterator[tuple[FieldPath, str]]:
    """Problems of `keeps:` (a pipe, an end the steps do not use already, a worker the
    runtime forks with steps) and of `close` actions (aimed at a worker that keeps one)."""
    for wname, w in scn.workers.items():
        for cname, end in w.keeps.items():
            path: FieldPath = ("workers", wname, "keeps", cname)
            if w.runs_program:
                yield (path, "'keeps' is for a worker with steps (a program closes or keeps "
                             "its own descriptors)")
                continue
            if w.spawned:
                yield (path, "'keeps' is for a worker the runtime starts (a spawned worker "
                             "gets its spawner's ends)")
                continue
            channel = scn.channels.get(cname)
            if channel is None:
                if not unsure.channel(cname):
                    known = ", ".join(unsure.declared(scn.channels, False)) or "none defined"
                    yield (path, f"unknown channel '{cname}' (channels: {known})")
                continue
            if channel.kind != "pipe":
                yield (path, f"'keeps' works on a pipe (an end inherited across fork); "
                             f"'{cname}' is a {channel.kind}")
                continue
            if end in channel_roles(w.steps).get(cname, set()):
                yield (path, f"this worker's steps already use the {end} end of '{cname}': "
                             f"keep the end they do not use")
    keepers = {name for wname, w in scn.workers.items() if w.keeps
               for name in (wname, *instance_names(wname, w))}
    for section in ("timeline", "triggers"):
        for i, event in enumerate(getattr(scn, section)):
            target = event.close
            if target is None or target in keepers or unsure.worker(target):
                continue
            if target in scn.workers or any(target in instance_names(n, w)
                                            for n, w in scn.workers.items()):
                yield ((section, i, "close"), f"worker '{target}' keeps no pipe end open "
                                              "(give it `keeps: {PIPE: write}`)")
