"""The end of a run: quiesce for exact final counters, kill and reap everything, close
and unlink every object, and report what is left."""

from __future__ import annotations

import signal
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ipcviz.host import program_leaks
from ipcviz.host.process import ProcessIdentity, read_stat, zombie_children
from ipcviz.host.runroot import RunRootError
from ipcviz.runtime.children import SpawnedChildren
from ipcviz.runtime.forking import ProgramParts, Workers
from ipcviz.runtime.programs import kill_program_trees, program_trees
from ipcviz.runtime.run_objects import RunObjects
from ipcviz.telemetry import table as T


#: how often the processes programs start are put into the registry (seconds)
PROGRAM_TREE_EVERY = 0.2


class Cleaner:
    """Ends the run: the final reading, then every process and object of it."""

    def __init__(self, objects: RunObjects, workers: Workers, children: SpawnedChildren,
                 programs: ProgramParts):
        self._objects = objects
        self._workers = workers
        self._children = children
        self._programs = programs
        #: processes the programs started, already put into the registry
        self._recorded: set[ProcessIdentity] = set()
        self._trees_due = 0.0
        self._leaks_recorded = False

    def quiesce(self, timeout: float = 1.5, limit: float = 10.0) -> bool:
        """Pause every worker at its next step boundary and wait until no counter moves.

        Gives up after `timeout` seconds in which nothing was counted, or `limit` in all:
        a receiver still counting a queue of real-time signals on a loaded machine keeps
        its counter moving, and is waited for (up to `limit`), so the reading is exact.

        A worker counts what it moved right after each system call, so once all are paused
        (or blocked, with nothing in flight) the table and the kernel agree exactly. A
        worker stopped by SIGSTOP may be stopped in the middle of a burst with its count
        not yet stored, so stopped workers are woken (a SIGCONT they do not count, see
        T.CTRL_QUIET_CONT), held at their boundary, and stopped again.
        """
        table = self._objects.table
        if table is None:
            return False
        arr = table.array
        arr[:, T.CTRL_PAUSE] |= T.PAUSE_WORKER
        woken = wake_stopped(table)
        counters = slice(T.SIG_RECEIVED, table.layout.event_base)
        now = time.monotonic()
        deadline, last_call = now + timeout, now + limit
        previous = arr[:, counters].copy()
        still = 0
        try:
            while time.monotonic() < min(deadline, last_call):
                time.sleep(0.02)
                self._workers.reap()
                self._programs.tracing.drain()  # a traced program must not stall on a pipe
                current = arr[:, counters].copy()
                moved = not (current == previous).all()
                still = 0 if moved else still + 1
                if moved:  # progress: the next `timeout` starts now
                    deadline = time.monotonic() + timeout
                previous = current
                # three still intervals: a worker at rest can still be woken by a signal
                # the kernel has not shown as pending yet (one interval lost real-time
                # signals of a burst cut by the clock); one when nothing can count again
                settled = still >= 3 or (still >= 1 and self._all_held_uncounting(arr))
                if settled and not self.signals_in_flight():
                    return True
            return False
        finally:
            for ident in woken:  # held at their boundary now: stopped again, as they were
                ident.signal(signal.SIGSTOP)

    def _all_held_uncounting(self, arr: np.ndarray) -> bool:
        """True when no count of the run can move again: every live worker and spawned
        child that runs steps stands held at its boundary (not inside a wait a peer or a
        program could end), and none has a signal handler of its own (a handler is the
        only code a held worker runs that counts). Then the table is final at this look."""
        rows = []
        for proc in self._workers.procs:
            if not proc.alive or proc.ident is None or proc.attached_argv is not None:
                continue
            definition = proc.instance.definition
            if definition.runs_program:
                continue  # (a program counts nothing, and cannot end a held worker's look)
            if _counts_signals(definition.handlers):
                return False
            rows.append(proc.row)
        for kid in self._children.spawned():
            if kid.exit is None:
                return False  # (a spawned child's own handlers are not known here)
        return bool(rows) and bool((arr[rows, T.HELD] == 1).all())

    def signals_in_flight(self) -> bool:
        """True while a live worker has a signal not yet in its count: pending in the kernel
        (and not blocked), or delivered and still being counted (the worker is running: a
        paused worker sleeps, and a delivery wakes it until its handler has counted)."""
        for proc in self._workers.procs:
            definition = proc.instance.definition
            if not proc.alive or proc.ident is None or definition.runs_program:
                continue  # (a program counts nothing: nothing of it is in flight)
            if not _counts_signals(definition.handlers):
                continue  # no handler of its own: no delivery is ever counted (and a held
                # worker waking to look at its cell, runnable for an instant, is not one)
            stat = read_stat(proc.ident.pid)
            if (stat is not None and stat.state == "R") or _deliverable(proc.ident.pid):
                return True
            if definition.handlers.get(signal.SIGCHLD) == "reap" and \
                    zombie_children(proc.ident.pid):  # a child just ended: about to be reaped
                return True
        return False

    def record_program_trees(self) -> None:
        """Put every process a program has started into the run's registry (pid + start
        time), a few times a second: if the runtime itself is killed outright, `ipcviz
        clean` (or the next start's sweep) finds and ends them, by identity."""
        now = time.monotonic()
        if now < self._trees_due:
            return
        self._trees_due = now + PROGRAM_TREE_EVERY
        programs = [(p.ident, p.alive) for p in self._workers.procs
                    if p.instance.definition.exec is not None and p.ident is not None]
        registry = self._objects.registry
        if not programs or registry is None:
            return
        leaders = [ident.pid for ident, alive in programs if alive]
        groups = {ident.pid for ident, _ in programs}  # (a program that has ended too)
        found = program_trees(leaders, groups, self._programs.tracing.pids)
        if self._objects.containment is not None:  # the run's id in their environment
            found += self._objects.containment.scan()
        for ident in found:
            if ident not in self._recorded and ident.pid not in groups:
                self._recorded.add(ident)
                registry.add_process(ident)

    def end_processes(self) -> None:
        """Kill and reap every process of the run: workers, their children, the programs'
        trees, what is in the run's cgroup. Nothing restarts from here on."""
        procs = self._workers.procs
        for proc in procs:
            proc.restart_at = None
            proc.restart_pending = False
        kids = [k.ident for k in self._children.spawned()]
        self._children.idents += kids
        containment = self._objects.containment
        if containment is not None:  # the whole cgroup at once, wherever its processes went
            containment.kill()
        kids += self._end_program_trees()
        self._programs.output.drain()
        self._programs.output.close()
        self._programs.tracing.stop()
        for proc in procs:
            if proc.attached_argv is not None:  # not ours to end: only stop watching it
                proc.alive = False
        for proc in procs:
            if proc.alive and proc.ident is not None:
                proc.ident.signal(signal.SIGKILL)
        for kid in kids:  # they would die with their parent anyway (PDEATHSIG)
            kid.signal(signal.SIGKILL)
        if containment is not None:  # what was recorded of the programs' trees: reaped too
            kids += [i for i in self._recorded | containment.marked if i not in kids]
        self._reap_all(kids)

    def _end_program_trees(self) -> list[ProcessIdentity]:
        """Kill what the programs started (not in the table: the kernel's tree); returns
        those processes, to be reaped."""
        programs = [p.ident.pid for p in self._workers.procs
                    if p.instance.definition.exec is not None and p.alive and p.ident]
        groups = {p.ident.pid for p in self._workers.procs
                  if p.instance.definition.exec is not None and p.ident}
        if not groups:
            return []
        containment = self._objects.containment
        marked = containment.scan if containment is not None else None
        extra = [i for i in kill_program_trees(programs, groups, marked,
                                               self._programs.tracing.pids)
                 if i.pid not in programs]
        self._children.idents += extra
        return extra

    def _reap_all(self, kids: list[ProcessIdentity]) -> None:
        """Reap until every worker and every one of `kids` is gone (3 s at most), and the
        run's cgroup is removed."""
        reap = self._workers.reap
        deadline = time.monotonic() + 3.0

        def busy() -> bool:
            return any(p.alive for p in self._workers.procs) or any(k.exists() for k in kids)

        while busy() and time.monotonic() < deadline:
            reap()
            if busy():
                time.sleep(0.005)
        reap()
        if self._objects.containment is not None:
            self._objects.containment.remove(reap)
            reap()

    def close_objects(self) -> None:
        """Close and unlink every channel, the registry's records, the table, the slots."""
        objects = self._objects
        for channel in objects.channels:
            try:
                channel.close()
            except OSError:
                pass
        objects.channels = []
        if objects.registry is not None:
            objects.registry.remove_all()
            if objects.containment is not None:  # a cgroup still busy stays named for clean
                objects.containment.keep_record(objects.registry.directory)
        if objects.table is not None:
            objects.table.close()
            objects.table = None
        if objects.slots is not None:
            objects.slots.close()
            objects.slots = None

    def leaks(self) -> dict[str, Any]:
        """What of this run is still present (after the end): must all be zero."""
        registry = self._objects.need_registry()
        processes: list[int | str] = [pid for pid, start in registry.processes
                                      if ProcessIdentity(pid, start).exists()]
        processes += [k.pid for k in self._children.idents if k.exists()]
        containment = self._objects.containment
        if containment is not None:  # in a cgroup that could not be removed
            processes += [f"{pid} (in cgroup {containment.path})"
                          for pid in containment.remaining]
        objects = registry.leaked_objects()
        watch = self._programs.watch
        identified = sorted({leak for name in watch.objects
                             for leak in watch.leak_identities(name)})
        theirs = sorted({path for path, _ in identified})
        if identified and not self._leaks_recorded:  # for `ipcviz clean --program-leaks`
            self._leaks_recorded = True
            try:
                program_leaks.record(identified)
            except (OSError, RunRootError):
                pass
        found: dict[str, Any] = {"processes": len(processes), "ipc_objects": len(objects),
                                    "details": [f"process {p}" for p in processes] + objects}
        if theirs:  # a watched program's own objects, not ipcviz's
            found["program_objects"] = theirs
        return found


def wake_stopped(table: T.Table) -> list[ProcessIdentity]:
    """SIGCONT every worker of the table (spawned ones too) the kernel shows stopped;
    returns those woken."""
    arr = table.array
    woken = []
    for row in np.flatnonzero(arr[:, T.PID].copy()):  # (spawners write it meanwhile)
        ident = ProcessIdentity(int(arr[row, T.PID]), int(arr[row, T.START]))
        stat = read_stat(ident.pid)
        if stat is None or stat.start_ticks != ident.start or stat.state not in ("T", "t"):
            continue
        table.cells[table.row_base(int(row)) + T.CTRL_QUIET_CONT] += 1
        if ident.signal(signal.SIGCONT):
            woken.append(ident)
    return woken


def _deliverable(pid: int) -> bool:
    """Whether /proc/PID/status shows a pending signal the process has not blocked."""
    masks = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line[:6] in (b"SigPnd", b"ShdPnd", b"SigBlk"):
                    masks[line[:6]] = int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return False
    pending = masks.get(b"SigPnd", 0) | masks.get(b"ShdPnd", 0)
    return bool(pending & ~masks.get(b"SigBlk", 0))


def _counts_signals(handlers: Mapping[int, str]) -> bool:
    """Whether a worker has a signal handler of its own (one that counts deliveries)."""
    return any(action not in ("ignore", "default") for action in handlers.values())
