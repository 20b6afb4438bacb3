"""Build Snapshots: the workers' own counters (telemetry table) plus the kernel's view
(/proc/PID/stat and status, channel observations), side by side, of one moment.

The Sampler composes its collaborators, each given what it needs when it is made: the
/proc readings (proc_reader.py), the frame's signal counts (row_signals.py), the worker
and channel views (worker_views.py, channel_views.py), the events (frame_events.py) and
the moment every frame is read in (moment.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ipcviz.runtime.channel_views import ChannelViews, rank_compared
from ipcviz.runtime.frame_events import FrameEvents
from ipcviz.runtime.lock_views import deadlock as deadlock_of
from ipcviz.runtime.moment import FIRST_WAIT, Moment, MomentReader, moving_rows
from ipcviz.runtime.proc_reader import ProcReader
from ipcviz.runtime.program_views import ProgramViews
from ipcviz.runtime.row_signals import RowSignals
from ipcviz.runtime.signal_merges import MergeProofs
from ipcviz.runtime.worker_views import WorkerViews, names_of
from ipcviz.signals import signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.deadlock import DeadlockWatch
from ipcviz.telemetry.invariants import channel_relations
from ipcviz.telemetry.snapshot import ChannelView, EventView, NextOp, Snapshot, WorkerView

if TYPE_CHECKING:
    from ipcviz.runtime.procs import SpawnedProc
    from ipcviz.runtime.supervisor import Runtime

#: how many times a frame is read again when its reading was not of one moment, and the
#: pause before the first retry (doubled each time): a worker that took a semaphore as
#: its wait ended counts it when it next runs, which on a loaded machine can be
#: milliseconds later
REREADS = 5
REREAD_PAUSE = 0.0005
#: ... and how many more times (each after REREAD_PAUSE * 2**REREADS) while no reading
#: has been whole and kept every relation yet: about FIRST_WAIT in all
FIRST_REREADS = 15
#: how many times the last reading of a run is taken again until it is whole
FINAL_TRIES = 8

#: the workers' and the channels' views of one reading, and the signals the workers' own
#: steps sent, per target row and signal number
Views = tuple[list[WorkerView], tuple[ChannelView, ...], dict[int, dict[int, int]]]


class Sampler:
    """Turns the runtime's state into Snapshots at the caller's pace."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.seq = 0
        self.procs = ProcReader()
        self.signals = RowSignals()
        #: coalesced signals the counts prove (signal_merges.py)
        self.merges = MergeProofs()
        self.programs = ProgramViews(runtime, self.procs)
        self.worker_views = WorkerViews(runtime, self.procs, self.signals, self.merges,
                                        self.programs)
        self.channel_views = ChannelViews(runtime, self.procs)
        self.events = FrameEvents(runtime)
        #: one moment per frame: the readings, and how often one had to be taken again
        self.moments = MomentReader()
        self.deadlocks = DeadlockWatch()
        #: per definition: (its "sent to" cell, target row, signal) of each signal slot
        self._slot_cells: dict[str, list[tuple[int, int, int]]] = {}
        self._wait_changes: frozenset[str] | None = None
        self._stepping: tuple[int, list[int]] | None = None
        #: worker -> (its view, its next operation, that view with it): a held worker's
        #: view and next operation stay the same from frame to frame
        self._with_op: dict[str, tuple[WorkerView, NextOp, WorkerView]] = {}

    @property
    def dropped_events(self) -> int:
        """Events the workers' rings lost before they were read."""
        return self.events.dropped

    def sample(self, kernel: bool = True, flush: bool = False) -> Snapshot:
        """Everything on screen, read now. `kernel=False` (an early frame between two ticks
        of the clock, sent because a counter or an event changed) reads the telemetry
        table and the channels but reuses what /proc said at the last tick (states, cpu,
        signal masks): reading /proc for every process is most of a frame's cost.
        `flush` (the end of a run): every mask read now, every event held back given
        (frame_events.py)."""
        self.procs.begin(kernel, flush)
        rt = self.runtime
        now = rt.elapsed
        channel_names = [c.name for c in rt.channels] or list(rt.model.channels)
        rt.name_new_children()
        kids = rt.spawned()
        if kernel:  # the /proc files of processes that are gone are given back
            self.procs.forget({p.ident.pid for p in rt.procs if p.alive and p.ident}
                              | {k.ident.pid for k in kids if k.exit is None})
        arr, workers, channels, by_workers = self._one_moment(kids, channel_names, now,
                                                              final=flush)
        rows = [(p.row, p.name) for p in rt.procs] + [(k.row, k.name) for k in kids]
        events = self.events.take(arr, rows, channel_names, self._row_names(kids), now,
                                  flush)
        workers = self._with_next_ops(workers)
        channels = rank_compared(channels, rt.model.compare, now)
        rt.syscalls.read()
        channels = rt.syscalls.annotate(channels)
        # a cycle seen in two frames in a row is named; once named, it stays named while
        # it stands (a real one never goes away by itself)
        # (dated on the run clock, as the summary's deadlock_at and the event log are)
        run_now = rt.run_time_of(now)
        deadlock, first = self.deadlocks.frame(deadlock_of(workers, channels), workers,
                                               channels, run_now)
        if first and deadlock:
            events.append(EventView(round(now, 3), "runtime",
                                    "DEADLOCK: " + " → ".join(deadlock + deadlock[:1]), "exit",
                                    round(run_now, 3)))
        self.seq += 1
        return self._snapshot(workers, channels, events, deadlock, by_workers, now)

    def _snapshot(self, workers: list[WorkerView], channels: tuple[ChannelView, ...],
                  events: list[EventView], deadlock: tuple[str, ...] | None,
                  by_workers: dict[int, dict[int, int]], now: float) -> Snapshot:
        """The frame, made of its views and what the runtime says of the run."""
        rt = self.runtime
        model, scheduler = rt.model, rt.scheduler
        return Snapshot(
            scenario=rt.scenario.name,
            description=model.description,
            result=model.result or "",
            held_start=scheduler.held_from is not None and not scheduler.steps,
            steps=scheduler.steps,
            schedule_length=len(scheduler.schedule),
            elapsed=round(now, 3),
            running=rt.started and not rt.all_ended(),
            workers=tuple(workers),
            channels=channels,
            events=tuple(events),
            dropped_events=self.events.dropped,
            deadlock=deadlock, deadlock_seen=self.deadlocks.seen,
            deadlock_at=self.deadlocks.at,
            triggers=tuple((t.key, t.label or t.action) for t in model.triggers),
            seq=self.seq,
            parent_signals={
                "signals_received": {signal_name(s): n
                                     for s, n in sorted(rt.parent_received.items())},
                "signals_sent_to": names_of(by_workers.get(T.PARENT_ROW_TARGET, {}))},
            mode=scheduler.mode, speed=scheduler.speed,
            run_time=round(rt.run_time, 3),
        )

    def _row_names(self, kids: list[SpawnedProc]) -> list[str]:
        """Each row's worker name, by row ("" for a row nobody uses)."""
        rt = self.runtime
        rows = rt.table.layout.rows if rt.table is not None else 0
        names = [p.name for p in rt.procs] + [""] * (rows - len(rt.procs))
        for kid in kids:
            names[kid.row] = kid.name
        return names

    def _one_moment(self, kids: list[SpawnedProc], channel_names: list[str], now: float,
                    final: bool = False
                    ) -> tuple[np.ndarray | None, list[WorkerView], tuple[ChannelView, ...],
                               dict[int, dict[int, int]]]:
        """The table (a copy), the workers' and the channels' views, all of one moment
        (runtime/moment.py). A whole reading whose channels break a relation their kind
        states (telemetry/invariants.py: a semaphore taken as a wait ended, counted a
        moment later) is taken again, up to REREADS times; a reading that is not whole
        (a worker the machine's load kept from its quiet point) gives way to the last
        whole one: a frame shows an earlier moment rather than two moments mixed.

        Not the `final` reading (the run's last frame, its summary): that one is taken
        again until it is whole, up to FINAL_TRIES times; an earlier moment would make the
        summary's counts those of seconds before the end."""
        table = self.runtime.table
        if table is None:
            return None, *self._views_of(None, kids, channel_names, now)
        fresh, stats = self.procs.fresh, self.moments.stats
        tries = 0
        moment = self._final_reading(kids) if final else self._read(kids)
        rereads_until = time.monotonic() + FIRST_WAIT  # (the first frames' rereads)
        while True:
            if not moment.whole and self.moments.last is not None:
                stats.earlier += 1  # (no views made of a reading that will not be shown)
                moment = self.moments.last
            views = self._views_of(moment, kids, channel_names, now)
            if moment is self.moments.last or (moment.whole and not self._broken(views[1])):
                self.moments.last = moment
                break
            self.procs.fresh = False  # this tick's /proc readings stand
            last = self.moments.last
            # with no earlier whole reading to show instead (the run's first frames), a
            # reading not whole or breaking a relation is taken again, as many times as
            # fit in about FIRST_WAIT: a sender whose blocking send the kernel completed
            # counts it only once the machine's load lets it run. A reading not whole
            # is taken again by the clock too: it has waited up to FIRST_WAIT for its
            # workers itself, and twenty of them held a loaded run's workers longer than
            # the run lasts. A whole one that breaks a relation is taken again by its
            # count however slow the machine makes each reading: the relation is kept
            # once the sender has run, which takes the machine's time, not fewer looks
            if (moment.whole and tries < REREADS) or (
                    last is None and tries < REREADS + FIRST_REREADS
                    and (moment.whole or time.monotonic() < rereads_until)):
                time.sleep(REREAD_PAUSE * 2 ** min(tries, REREADS))
                tries += 1
                stats.rereads += 1
                moment = self._read(kids)
                continue
            if last is None or last is moment:
                stats.unsettled += 1
                break
            stats.earlier += 1
            moment = last
        self.procs.fresh = fresh
        return moment.table, *views

    def _read(self, kids: list[SpawnedProc], patience: float | None = None) -> Moment:
        """One reading of the table and the channels (moment.py)."""
        rt = self.runtime
        assert rt.table is not None
        return self.moments.read(rt.table.array, self._stepping_rows(kids), rt.channels,
                                 lambda among: moving_rows(rt.procs, kids, self.procs.stats, among),
                                 rt.table.layout.event_base, patience=patience)

    def _final_reading(self, kids: list[SpawnedProc]) -> Moment:
        """The run's last reading, taken again until it is whole (FINAL_TRIES times at
        most); one still not whole is the last reading shown all the same."""
        moment = self._read(kids, FIRST_WAIT)
        for _ in range(FINAL_TRIES):
            if moment.whole:
                break
            moment = self._read(kids, FIRST_WAIT)
        if not moment.whole:
            self.moments.stats.unsettled += 1  # the latest reading, not an earlier one
            self.moments.last = moment
        return moment

    def _broken(self, channels: tuple[ChannelView, ...]) -> bool:
        """Whether a channel whose waits change it (Channel.WAIT_CHANGES_IT: a semaphore
        taken as a wait ends, counted a moment later) breaks a relation of its kind."""
        changing = self._wait_changes
        if changing is None:
            changing = self._wait_changes = frozenset(
                c.name for c in self.runtime.channels if c.WAIT_CHANGES_IT)
        return any(channel_relations(c, None) for c in channels if c.name in changing)

    def _views_of(self, moment: Moment | None, kids: list[SpawnedProc],
                  channel_names: list[str], now: float) -> Views:
        """The workers' and channels' views of one reading (None: no table yet)."""
        rt = self.runtime
        arr = moment.table if moment is not None else None
        by_workers = self._sent_by_workers(arr, kids) if arr is not None else {}
        self.signals.count(arr)
        views = self.worker_views
        workers = [views.worker_view(p, arr[p.row] if arr is not None else None,
                                     channel_names, now, by_workers.get(p.row))
                   for p in rt.procs]
        if arr is not None:
            workers += [views.kid_view(k, arr[k.row], channel_names, now) for k in kids]
        channels = self.channel_views.views(arr, workers, kids,
                                            moment.observed if moment is not None else {})
        return workers, channels, by_workers

    def _stepping_rows(self, kids: list[SpawnedProc]) -> list[int]:
        """The rows of every worker that runs steps, ended or not (a program's row is
        never written), worked out once per set of workers."""
        procs = self.runtime.procs
        known = self._stepping
        if known is None or known[0] != len(procs):
            known = self._stepping = (len(procs), [
                p.row for p in procs
                if p.attached_argv is None and p.instance.definition.exec is None])
        return known[1] + [k.row for k in kids] if kids else known[1]

    def _with_next_ops(self, workers: list[WorkerView]) -> list[WorkerView]:
        """Each held worker's next operation, while the run is not simply running (from
        the table's control cells: a paused run's answer to a key has it for 512)."""
        sched = self.runtime.scheduler
        if sched.mode == "run" or self.runtime.table is None:
            return workers
        ops = sched.next_ops()
        out = []
        for view in workers:
            op = ops.get(view.name)
            if op is None:
                out.append(view)
                continue
            next_op = NextOp(op.kind, op.channel, op.detail)
            known = self._with_op.get(view.name)
            if known is None or known[0] is not view or known[1] != next_op:
                known = self._with_op[view.name] = (view, next_op,
                                                    replace(view, next_op=next_op))
            out.append(known[2])
        return out

    def _sent_by_workers(self, arr: np.ndarray, kids: list[SpawnedProc]
                         ) -> dict[int, dict[int, int]]:
        """Signals the workers' own `signal` steps sent, per target row (-1: the runtime)
        and signal number, added up from each sender's "sent to" cells."""
        rt = self.runtime
        assert rt.table is not None
        out: dict[int, dict[int, int]] = {}
        senders = [(p.row, p.instance.group) for p in rt.procs] + [(k.row, k.group) for k in kids]
        for row, group in senders:
            cells = self._slot_cells.get(group)
            if cells is None:
                slots = rt.scenario.plan.signal_slots.get(group, {})
                base = rt.table.layout.sent_to_base
                cells = self._slot_cells[group] = [(base + slot, target, sig) for
                                                   (target, sig), slot in slots.items()]
            for cell, target, sig in cells:
                sent = int(arr[row, cell])
                if sent:
                    counts = out.setdefault(target, {})
                    counts[sig] = counts.get(sig, 0) + sent
        return out

    def close(self) -> None:
        """Give back the /proc files kept open (the garbage collector does it too)."""
        self.procs.close()
