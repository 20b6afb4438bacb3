"""The diagnoses of a watched program over time: what the pure functions of
ipcviz.observe.diagnose find at each reading, the little the kernel must be asked for
them (holders outside the tree, close-on-exec flags: read only for their candidates), and
how long each has held, so a diagnosis is shown only once it has held for a full second
and says for how long."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (ipcviz.observe is imported where a program is watched, not by every run)
    from ipcviz.observe.graph import Graph
    from ipcviz.observe.model import Observation

#: seconds a condition must hold before it is shown
SHOWN_AFTER = 1.0
#: seconds a look for holders outside the tree stays good; seconds of it per reading
OUTSIDE_FRESH = 1.0
LOOK_BUDGET = 0.005
#: most diagnoses a program's summary keeps (a long run can meet many short-lived ones)
MAX_KEPT = 100
O_CLOEXEC = 0o2000000
#: diagnoses that hold only if nobody outside the tree holds an end of their objects
_NEED_OUTSIDE = ("eof_never", "deadlock", "pipe_full")


def cloexec(pid: int, fd: int) -> bool | None:
    """Whether a descriptor has close-on-exec, from /proc/PID/fdinfo (None: unreadable)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
            for line in fh:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & O_CLOEXEC)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _links(graph: Graph, wanted: set[str]) -> dict[str, str]:
    """The /proc/PID/fd link text of each wanted object's descriptors -> its id."""
    links: dict[str, str] = {}
    for ident in wanted:
        obj = graph.object(ident)
        if obj is None:
            continue
        if obj.kind == "fifo":
            links[obj.label] = ident
        else:
            prefix = "pipe" if obj.kind == "pipe" else "socket"
            links.update({f"{prefix}:[{inode}]": ident for inode in obj.inodes})
    return links


@dataclass
class OutsideLook:
    """A look through /proc for processes outside the tree that hold a descriptor of
    some objects, done a slice at a time so a machine with many processes never holds up
    a frame (processes that cannot be read are not counted: another user's process holds
    none of ours unless it was handed one)."""

    links: dict[str, str]
    pids: list[int]
    found: dict[str, set[int]]

    @classmethod
    def start(cls, graph: Graph, wanted: set[str]) -> OutsideLook:
        pids = sorted(int(e.name) for e in os.scandir("/proc") if e.name.isdigit())
        return cls(_links(graph, wanted), pids, {ident: set() for ident in wanted})

    def step(self, tree: set[int], budget: float) -> bool:
        """Look at processes until `budget` seconds have passed (one at least); True
        once every process has been looked at."""
        deadline = time.monotonic() + budget
        me = os.getpid()
        while self.pids:
            pid = self.pids.pop()
            if pid not in tree and pid != me:
                self._look(pid)
            if time.monotonic() >= deadline:
                break
        return not self.pids

    def _look(self, pid: int) -> None:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return
        for fd in fds:
            try:
                ident = self.links.get(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            if ident is not None:
                self.found[ident].add(pid)

    def result(self) -> dict[str, tuple[int, ...]]:
        return {ident: tuple(sorted(pids)) for ident, pids in self.found.items()}


@dataclass
class Diagnoses:
    """Each program's diagnoses: when each was first seen, and each one shown so far."""

    first_seen: dict[str, dict[str, float]] = field(default_factory=dict)
    shown: dict[str, dict[str, dict]] = field(default_factory=dict)
    #: by program: the holders outside its tree of each object looked for, and when
    outside: dict[str, dict[str, tuple[float, tuple[int, ...]]]] = field(default_factory=dict)
    #: by program: the look through /proc under way, if any
    looks: dict[str, OutsideLook] = field(default_factory=dict)

    def read(self, name: str, seen: Observation, graph: Graph) -> list[dict]:
        """The diagnoses shown now for this program (each held a full second)."""
        from ipcviz.observe.diagnose import diagnose, inherited_candidates

        no_cloexec = {(pid, fd) for pid, fd in inherited_candidates(graph)
                      if cloexec(pid, fd) is False}
        # the tree alone first (cheap); /proc is looked through only for the objects of
        # what it finds stuck
        wanted = {ident for f in diagnose(seen, graph, None, no_cloexec)
                  if f.kind in _NEED_OUTSIDE for ident in f.objects}
        now = seen.taken_at
        known = self.outside.setdefault(name, {})
        stale = {i for i in wanted if now - known.get(i, (-1e9, ()))[0] > OUTSIDE_FRESH}
        if stale and name not in self.looks:
            self.looks[name] = OutsideLook.start(graph, stale)
        look = self.looks.get(name)
        if look is not None and look.step({p.pid for p in seen.processes}, LOOK_BUDGET):
            for ident, pids in look.result().items():
                known[ident] = (now, pids)
            del self.looks[name]
        for ident in [i for i, (at, _) in known.items()
                      if i not in wanted and now - at > 10 * OUTSIDE_FRESH]:
            del known[ident]   # objects nobody has waited on for a while are forgotten
        # a look being renewed still stands until the new one has finished
        outside = {i: known[i][1] for i in wanted if i in known}
        findings = diagnose(seen, graph, outside, no_cloexec)
        since = self.first_seen.setdefault(name, {})
        keys = {f.key for f in findings}
        for key in list(since):
            if key not in keys:
                del since[key]
        out = []
        for f in findings:
            held = now - since.setdefault(f.key, now)
            if held < SHOWN_AFTER:
                continue
            item = {"kind": f.kind, "key": f.key, "text": f.line(held), "held_s": round(held, 1),
                    "pids": list(f.pids), "objects": list(f.objects)}
            out.append(item)
            kept = self.shown.setdefault(name, {})
            if f.key in kept or len(kept) < MAX_KEPT:
                kept[f.key] = item
        return out

    def all_shown(self, name: str, now: list[dict]) -> list[dict]:
        """Every diagnosis shown during the run, each as it was last seen (`now`: true
        while it still holds)."""
        current = {d["key"] for d in now}
        return [{**d, "now": d["key"] in current} for d in self.shown.get(name, {}).values()]
