"""What keeps every process of a run the run's own, in any session, after any number of
forks, so that all of them end with the run and `ipcviz clean` finds what a killed run
left: a cgroup of the run's own where the machine allows it (host/cgroup.py), else the
runtime as child subreaper plus tracking.

Tracking (the whole story without a cgroup, a second net with one: a process of the
user's may move itself out of a cgroup the user owns): every worker's program gets
`IPCVIZ_RUN_ID` in its environment; a few times a second the runtime looks at the
processes that appeared since its last look and takes as the run's those of the user's
own whose environment carries this run's id, besides the programs' trees and process
groups (programs.py); each is put into the registry by pid and start time, and killed by
identity at the end. The runtime is their subreaper: an orphan that left its session and
cleared its environment is still its child (programs.py), and ends with the run. What
escapes tracking alone: such a process started just before the runtime itself is killed
outright (then init adopts it), before the runtime's next look recorded it for `clean`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ipcviz.host import cgroup
from ipcviz.host.process import ProcessIdentity, read_proc, parse_stat, start_ticks

#: the variable in every program's environment naming the run it belongs to
RUN_ID_ENV = "IPCVIZ_RUN_ID"


@dataclass
class Containment:
    """The run's cgroup (or why there is none) and the processes tracking has tied to it."""

    run_id: str
    path: str | None = None
    #: why there is no cgroup (tracking is used instead)
    reason: str = ""
    #: the run's start (clock ticks since boot): older processes are never the run's
    since: int = 0
    #: pids looked at by the last scan: only newcomers are read again
    _seen: set[int] = field(default_factory=set)
    #: processes of the run found by their environment
    marked: set[ProcessIdentity] = field(default_factory=set)
    #: pids still in the cgroup after the end of the run (it could not be removed)
    remaining: list[int] = field(default_factory=list)

    @classmethod
    def make(cls, run_id: str, run_dir: Path) -> Containment:
        """The run's cgroup where one can be made and joined, else tracking."""
        me = start_ticks(os.getpid()) or 0
        path, reason = cgroup.make_run_cgroup(run_id, run_dir)
        return cls(run_id, path, reason, since=me)

    @property
    def mechanism(self) -> str:
        """`cgroup` or `subreaper` (the summary's `containment`)."""
        return "cgroup" if self.path else "subreaper"

    def describe(self) -> str:
        """One line for the event log: how the run's processes are kept together."""
        if self.path:
            return f"every process of the run is kept in cgroup {self.path}"
        return ("no cgroup (" + self.reason + "): the run's processes are tracked as "
                "ipcviz's descendants, by process group and by " + RUN_ID_ENV)

    def environment(self) -> dict[str, str]:
        return {RUN_ID_ENV: self.run_id}

    def join(self) -> None:
        """In a worker's fork, first of all: into the run's cgroup."""
        if self.path:
            cgroup.join(self.path)

    def scan(self) -> list[ProcessIdentity]:
        """Processes that appeared since the last scan and carry this run's id in their
        environment (the user's own, started after the run); all found so far."""
        try:
            pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
        except OSError:
            return list(self.marked)
        me, uid = os.getpid(), os.getuid()
        for pid in pids - self._seen:
            if pid == me:
                continue
            ident = self._marked(pid, uid)
            if ident is not None:
                self.marked.add(ident)
        self._seen = pids
        return list(self.marked)

    def _marked(self, pid: int, uid: int) -> ProcessIdentity | None:
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                return None
        except OSError:
            return None
        raw = read_proc(pid, "stat", 1024)
        if not raw:
            return None
        stat = parse_stat(raw)
        if stat.start_ticks < self.since:
            return None
        wanted = f"{RUN_ID_ENV}={self.run_id}".encode()
        environ = read_proc(pid, "environ", 1 << 20) or b""
        if wanted not in environ.split(b"\0"):
            return None
        ident = ProcessIdentity(pid, stat.start_ticks)
        return ident if ident.exists() else None

    def kill(self) -> None:
        """SIGKILL every process of the cgroup at once (tracking kills by identity:
        the runtime's shutdown does it with the programs' trees)."""
        if self.path:
            cgroup.kill(self.path)

    def remove(self, meanwhile: Callable[[], None] | None = None) -> None:
        """Once its processes have ended: remove the cgroup (what is still in it is
        counted as left behind)."""
        if self.path and not cgroup.remove(self.path, meanwhile=meanwhile):
            self.remaining = cgroup.members(self.path)

    def keep_record(self, run_dir: Path) -> None:
        """After the run directory was removed: when the cgroup could not be, a run
        directory naming only it, so that `ipcviz clean` ends it once this run is over."""
        if not (self.path and self.remaining):
            return
        try:
            run_dir.mkdir(mode=0o700)
            cgroup.record(self.path, run_dir)
        except OSError:
            pass
