"""The end of a run (a mixin of Runtime): quiesce for exact final counters, kill and
reap everything, close and unlink every object, and report what is left."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from ipcviz.host import program_leaks
from ipcviz.host.process import ProcessIdentity, become_subreaper, read_stat, zombie_children
from ipcviz.host.runroot import RunRootError
from ipcviz.runtime.programs import kill_program_trees, program_trees
from ipcviz.telemetry import table as T


#: how often the processes programs start are put into the registry (seconds)
PROGRAM_TREE_EVERY = 0.2


class Cleanup:
    """Mixin of `Runtime`: quiesce, shutdown, leaks."""

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
        if self.table is None:
            return False
        arr = self.table.array
        arr[:, T.CTRL_PAUSE] |= T.PAUSE_WORKER
        woken = wake_stopped(self.table)
        counters = slice(T.SIG_RECEIVED, self.table.layout.event_base)
        now = time.monotonic()
        deadline, last_call = now + timeout, now + limit
        previous = arr[:, counters].copy()
        still = 0
        try:
            while time.monotonic() < min(deadline, last_call):
                time.sleep(0.02)
                self.reap()
                self.tracing.drain()  # a traced program must not stall on a full pipe
                current = arr[:, counters].copy()
                moved = not (current == previous).all()
                still = 0 if moved else still + 1
                if moved:  # progress: the next `timeout` starts now
                    deadline = time.monotonic() + timeout
                previous = current
                # three still intervals: a worker at rest can still be woken by a signal
                # the kernel has not shown as pending yet (one interval lost real-time
                # signals of a burst cut by the clock)
                if still >= 3 and not self._signals_in_flight():
                    return True
            return False
        finally:
            for ident in woken:  # held at their boundary now: stopped again, as they were
                ident.signal(signal.SIGSTOP)

    def _signals_in_flight(self) -> bool:
        """True while a live worker has a signal not yet in its count: pending in the kernel
        (and not blocked), or delivered and still being counted (the worker is running: a
        paused worker sleeps, and a delivery wakes it until its handler has counted)."""
        for proc in self.procs:
            if not proc.alive or proc.ident is None or proc.instance.definition.runs_program:
                continue  # (a program counts nothing: nothing of it is in flight)
            if not any(action not in ("ignore", "default")
                       for action in proc.instance.definition.handlers.values()):
                continue  # no handler of its own: no delivery is ever counted (and a held
                # worker waking to look at its cell, runnable for an instant, is not one)
            stat = read_stat(proc.ident.pid)
            if (stat is not None and stat.state == "R") or _deliverable(proc.ident.pid):
                return True
            if proc.instance.definition.handlers.get(signal.SIGCHLD) == "reap" and \
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
        programs = [p for p in self.procs if p.instance.definition.exec is not None
                    and p.ident is not None]
        if not programs or self.registry is None:
            return
        leaders = [p.ident.pid for p in programs if p.alive]
        groups = {p.ident.pid for p in programs}  # (a program that has ended too)
        recorded = self._recorded_descendants
        found = program_trees(leaders, groups, self.tracing.pids)
        if self.containment is not None:  # the run's id in their environment
            found += self.containment.scan()
        for ident in found:
            if ident not in recorded and ident.pid not in groups:
                recorded.add(ident)
                self.registry.add_process(ident)

    def shutdown(self) -> None:
        """Kill and reap every worker, close and unlink every object. Safe to call twice."""
        self.cut_bursts()
        self.name_new_children()
        for proc in self.procs:  # nothing may start again once the processes end
            proc.restart_at = None
            proc.restart_pending = False
        kids = [k.ident for k in self.spawned()]
        self._kid_idents += kids
        containment = self.containment
        if containment is not None:  # the whole cgroup at once, wherever its processes went
            containment.kill()
        programs = [p.ident.pid for p in self.procs
                    if p.instance.definition.exec is not None and p.alive and p.ident]
        groups = {p.ident.pid for p in self.procs
                  if p.instance.definition.exec is not None and p.ident}
        if groups:  # a program's own children are not in the table: the kernel's tree
            marked = containment.scan if containment is not None else None
            extra = [i for i in kill_program_trees(programs, groups, marked, self.tracing.pids)
                     if i.pid not in programs]
            kids += extra
            self._kid_idents += extra
        self.programs.drain()
        self.programs.close()
        self.tracing.stop()
        for proc in self.procs:
            if proc.attached_argv is not None:  # not ours to end: only stop watching it
                proc.alive = False
        for proc in self.procs:
            proc.restart_at = None
            proc.restart_pending = False
            if proc.alive and proc.ident is not None:
                proc.ident.signal(signal.SIGKILL)
        for kid in kids:  # they would die with their parent anyway (PDEATHSIG)
            kid.signal(signal.SIGKILL)
        if containment is not None:  # what was recorded of the programs' trees: reaped too
            kids += [i for i in self._recorded_descendants | containment.marked
                     if i not in kids]
        deadline = time.monotonic() + 3.0

        def busy() -> bool:
            return any(p.alive for p in self.procs) or any(k.exists() for k in kids)

        while busy() and time.monotonic() < deadline:
            self.reap()
            if busy():
                time.sleep(0.005)
        self.reap()
        if containment is not None:
            containment.remove(self.reap)
            self.reap()
        for channel in self.channels:
            try:
                channel.close()
            except OSError:
                pass
        self.channels = []
        if self.registry is not None:
            self.registry.remove_all()
            if containment is not None:  # a cgroup still busy stays named for clean
                containment.keep_record(self.registry.directory)
        if self.table is not None:
            self.table.close()
            self.table = None
        try:  # first: no handler may write to the wakeup pipe once it is closed
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        if self.slots is not None:
            self.slots.close()
            self.slots = None
        if not getattr(self, "was_subreaper", True):  # every process of the run has ended
            become_subreaper(False)
        for fd in (self._gate_r, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._gate_r = None
        self._wake_r = self._wake_w = -1
        self.started = False

    def leaks(self) -> dict[str, object]:
        """What of this run is still present (after `shutdown`): must all be zero."""
        assert self.registry is not None
        processes = [pid for pid, start in self.registry.processes
                     if ProcessIdentity(pid, start).exists()]
        processes += [k.pid for k in self._kid_idents if k.exists()]
        if self.containment is not None:  # in a cgroup that could not be removed
            processes += [f"{pid} (in cgroup {self.containment.path})"
                          for pid in self.containment.remaining]
        objects = self.registry.leaked_objects()
        watch = self.program_watch
        identified = sorted({leak for name in watch.objects
                             for leak in watch.leak_identities(name)})
        theirs = sorted({path for path, _ in identified})
        if identified and not self._leaks_recorded:  # for `ipcviz clean --program-leaks`
            self._leaks_recorded = True
            try:
                program_leaks.record(identified)
            except (OSError, RunRootError):
                pass
        found: dict[str, object] = {"processes": len(processes), "ipc_objects": len(objects),
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

