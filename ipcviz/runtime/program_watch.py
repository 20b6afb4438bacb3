"""What the kernel shows of each program's process tree (`exec:` and attached workers),
read at the clock's ticks as plain data for the Snapshot, with the peaks the summary
reports and the POSIX objects a program leaves behind."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ipcviz.host.ipc_listing import queue_listing, shm_listing
from ipcviz.host.ownership import ipc_identity
from ipcviz.runtime.diagnosis import Diagnoses
from ipcviz.runtime.programs import not_exec_yet


#: bytes of each shared-memory segment shown; how often (in frames) mappings are read
SHOWN_BYTES = 64
MAPS_EVERY = 5
#: seconds over which a process's share of a core is worked out (one tick's share jumps)
CPU_WINDOW = 1.0
#: graph objects read from the mappings (kept between the ticks that read them)
_MAPPED = ("posix_shm", "sysv_shm", "shared_file", "anonymous")


@dataclass
class ProgramWatch:
    """What the kernel shows of each program's process tree, read at the clock's ticks,
    as plain data for the Snapshot, and the peaks the summary reports."""

    last: dict[str, dict] = field(default_factory=dict)
    peaks: dict[str, dict] = field(default_factory=dict)
    #: POSIX objects seen in a program's tree, by worker: leaks if they outlive the run
    objects: dict[str, set[str]] = field(default_factory=dict)
    ticks: int = 0
    #: program pids seen after their exec (an exec happens once: not checked again)
    execd: set[int] = field(default_factory=set)
    #: workers watching a process ipcviz did not start (attach:): what their trees use
    #: is never called their leak
    not_ours: set[str] = field(default_factory=set)
    #: /dev/shm and the message queues as they were when the run started (name ->
    #: inode): an object still there under the same name and inode is not the program's
    #: leak (it only used it); None: the queues could not be listed (never a leak then)
    shm_before: dict[str, int] = field(default_factory=shm_listing)
    queues_before: dict[str, int] | None = None
    #: each watched pid's CPU seconds at its last reading, and when (for the share of a
    #: core it used between two readings)
    cpu_seen: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: what each program's IPC looks wrong in, and for how long (runtime/diagnosis.py)
    diagnoses: Diagnoses = field(default_factory=Diagnoses)
    #: the latest graph of who talks to whom in each program (observe/graph.py)
    graphs: dict[str, dict] = field(default_factory=dict)

    def note_start(self) -> None:
        """List what exists now, before any program starts (see `leak_identities`)."""
        self.shm_before = shm_listing()
        self.queues_before = queue_listing()

    def read(self, name: str, pid: int, fresh: bool, plumbing: set[int],
             channels: dict[int, str]) -> dict:
        """The tree under `pid` (`plumbing`: inodes of ipcviz's own pipes, left out;
        `channels`: inodes of the scenario's pipes and FIFOs, by channel name)."""
        if not fresh and name in self.last:
            return self.last[name]
        if pid not in self.execd and not_exec_yet(pid):  # still the runtime's fork
            return self.last.get(name, {"processes": [], "pipes": [], "queues": [],
                                        "sockets": [], "shared_memory": []})
        self.execd.add(pid)
        from ipcviz.observe import observe
        from ipcviz.observe.graph import build_graph

        self.ticks += 1
        maps = self.ticks % MAPS_EVERY == 1 or name not in self.last
        seen = observe(pid, contents_limit=SHOWN_BYTES, maps=maps)
        view = {
            # the masks a lesson turns on (each process's own: a child may block what
            # its parent does not), only when not empty
            "processes": [[p.pid, p.ppid, p.name, p.state_words,
                           p.wait.words if p.wait else "", p.zombies,
                           {k: list(v) for k, v in (
                               ("pending", sorted(set(p.signals.pending)
                                                  | set(p.signals.shared_pending))),
                               ("blocked", p.signals.blocked)) if v},
                           self._cpu_percent(p.pid, p.cpu_seconds, seen.taken_at), p.rss,
                           p.cpu_seconds]
                          for p in seen.processes],
            "pipes": [{"kind": p.kind, "path": p.path, "inode": p.inode,
                       "buffered": p.buffered, "capacity": p.capacity,
                       "writers": list(p.writers), "readers": list(p.readers),
                       "channel": channels.get(p.inode)}
                      for p in seen.pipes if p.inode not in plumbing],
            "queues": [{"name": q.name, "depth": q.depth, "capacity": q.capacity,
                        "holders": sorted({e.pid for e in q.holders})} for q in seen.queues],
            "sockets": [{"family": s.family, "type": s.type, "state": s.state,
                         "local": s.local, "remote": s.remote, "rx_queue": s.rx_queue,
                         "holders": sorted({e.pid for e in s.holders})} for s in seen.sockets],
        }
        graph = build_graph(seen, plumbing)
        view["diagnoses"] = self.diagnoses.read(name, seen, graph)
        drawn = graph.to_dict()
        if not maps:  # mappings are read every MAPS_EVERY ticks: the last ones stand
            drawn["objects"] += [o for o in self.graphs.get(name, {}).get("objects", [])
                                 if o["kind"] in _MAPPED]
        self.graphs[name] = drawn
        if maps:
            view["shared_memory"] = [
                {"name": m.name, "kind": m.kind, "size": m.size, "mappers": list(m.mappers),
                 "contents": m.contents.hex() if m.contents is not None else None}
                for m in seen.mappings if m.kind in ("posix_shm", "sysv_shm")]
        else:
            view["shared_memory"] = self.last.get(name, {}).get("shared_memory", [])
        self.last[name] = view
        self._peak(name, view)
        return view

    def diagnosed(self, name: str) -> list[dict]:
        """Every diagnosis shown for this program during the run (`now`: still holds)."""
        return self.diagnoses.all_shown(name, self.last.get(name, {}).get("diagnoses", []))

    def _cpu_percent(self, pid: int, cpu_seconds: float | None, at: float) -> float | None:
        """The share of one core the process used over the last second or so (None at its
        first reading, or when its CPU time cannot be read)."""
        before = self.cpu_seen.get(pid)
        if cpu_seconds is None:
            return None
        if before is None:
            self.cpu_seen[pid] = (cpu_seconds, at)
            return None
        if at - before[1] >= CPU_WINDOW:  # a new window starts from this reading
            self.cpu_seen[pid] = (cpu_seconds, at)
        if at <= before[1]:
            return None
        return round(100 * max(0.0, cpu_seconds - before[0]) / (at - before[1]), 1)

    def _peak(self, name: str, view: dict) -> None:
        peak = self.peaks.setdefault(name, {"processes": 0, "zombies": 0, "pipes": {},
                                            "queues": {}, "shared_memory": {}})
        peak["processes"] = max(peak["processes"], len(view["processes"]))
        peak["zombies"] = max(peak["zombies"], sum(p[5] for p in view["processes"]))
        for pipe in view["pipes"]:
            key = pipe["channel"] or pipe["path"] or f"pipe:[{pipe['inode']}]"
            known = peak["pipes"].setdefault(key, {"peak_buffered": 0, "writers": [],
                                                   "readers": []})
            known["peak_buffered"] = max(known["peak_buffered"], pipe["buffered"] or 0)
            known["writers"] = sorted(set(known["writers"]) | set(pipe["writers"]))
            known["readers"] = sorted(set(known["readers"]) | set(pipe["readers"]))
        theirs = name not in self.not_ours
        for queue in view["queues"]:
            known = peak["queues"].setdefault(queue["name"], {"peak_depth": 0})
            known["peak_depth"] = max(known["peak_depth"], queue["depth"] or 0)
            if theirs and not self._not_its_own(queue["name"]):
                self.objects.setdefault(name, set()).add("mqueue:" + queue["name"])
        for segment in view["shared_memory"]:
            known = peak["shared_memory"].setdefault(segment["name"], {"size": 0,
                                                                        "mappers": []})
            known["size"] = max(known["size"], segment["size"])
            known["mappers"] = sorted(set(known["mappers"]) | set(segment["mappers"]))
            if theirs and segment["kind"] == "posix_shm" and \
                    not self._not_its_own(segment["name"]):
                self.objects.setdefault(name, set()).add("shm:" + segment["name"])

    def _not_its_own(self, posix_name: str) -> bool:
        """An object the program did not create: ipcviz's (whether it was there before
        the run is decided at the end, by name and inode)."""
        return posix_name.lstrip("/").startswith(("ipcviz.", "sem.ipcviz."))

    def leaks(self, name: str) -> list[str]:
        """POSIX objects this program's tree used that still exist: /dev/shm/NAME and
        /dev/mqueue/NAME (the program's, not ipcviz's: reported, never removed here)."""
        return [path for path, _ in self.leak_identities(name)]

    def leak_identities(self, name: str) -> list[tuple[str, int]]:
        """(path, inode) of each object this program's tree used that still exists, is
        ours, and was created during the run: its name and inode were not in the listing
        taken at the start (an object the program only opened is not its leak; where the
        queues could not be listed, no queue is called one)."""
        out = []
        for item in sorted(self.objects.get(name, ())):
            kind, _, obj = item.partition(":")
            found = ipc_identity("mqueue" if kind == "mqueue" else "shm", obj)
            if found is None or found[0] != os.getuid():
                continue  # gone, or not ours
            before = self.queues_before if kind == "mqueue" else self.shm_before
            if before is None or before.get(obj.lstrip("/")) == found[1]:
                continue
            out.append((("/dev/mqueue" if kind == "mqueue" else "/dev/shm") + obj, found[1]))
        return out

