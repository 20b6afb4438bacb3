"""Build Snapshots: the workers' own counters (telemetry table) plus the kernel's view
(/proc/PID/stat and status, channel observations), side by side.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ipcviz.host.process import CLOCK_TICKS, StatFiles, parse_stat
from ipcviz.runtime.channel_views import ChannelViews, rank_compared
from ipcviz.runtime.moment import FIRST_WAIT, Moment, MomentReader, moving_rows
from ipcviz.runtime.procmasks import read_masks
from ipcviz.runtime.signal_merges import MergeProofs
from ipcviz.runtime.worker_views import MASKS_EVERY, WorkerViews, names_of
from ipcviz.signals import NSIG, signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.deadlock import DeadlockWatch
from ipcviz.telemetry.events import describe_event
from ipcviz.telemetry.invariants import channel_relations
from ipcviz.telemetry.snapshot import (
    ChannelView, End, EventView, NextOp, Snapshot, WorkerView,
)

if TYPE_CHECKING:
    from ipcviz.runtime.procs import SpawnedProc
    from ipcviz.runtime.supervisor import Runtime


#: how long a worker's event waits before it is shown, so that events reach the screen
#: in the order they happened even when their writers log them a moment late
EVENT_HOLD = 0.05
#: how many times a frame is read again when its reading was not of one moment, and the
#: pause before the first retry (doubled each time): a worker that took a semaphore as
#: its wait ended counts it when it next runs, which on a loaded machine can be
#: milliseconds later
REREADS = 5
REREAD_PAUSE = 0.0005
#: how many times the last reading of a run is taken again until it is whole
FINAL_TRIES = 8


class Sampler(WorkerViews, ChannelViews):
    """Turns the runtime's state into Snapshots at the caller's pace."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.seq = 0
        self._event_seen: dict[int, int] = {}
        self._cpu_prev: dict[int, tuple[int, float]] = {}
        self._counters: dict[str, list[tuple[str, str, int]]] = {}
        self._masks: dict[int, dict[str, list[str]]] = {}
        self._mask_keys: dict[int, tuple] = {}
        self._stat_files = StatFiles()
        self._merges = MergeProofs()  # coalesced signals the counts prove (WorkerViews)
        #: worker -> (what its last view was made of, that view): see _worker_view
        self._views: dict[str, tuple[tuple, object]] = {}
        #: per worker: what its view was made of at the last tick, and that view
        self._unmoved: dict[str, tuple[tuple, object]] = {}
        self._mask_ticks: dict[int, int] = {}
        self._ticks = 0  # frames that read the kernel (`kernel=True`)
        self._signals_of: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        self._received_totals: np.ndarray | None = None
        self._ends: dict[str, tuple[tuple[End, ...], tuple[End, ...]]] = {}
        self._fresh = True
        self._stats: dict[int, tuple[object, float]] = {}  # pid -> (ProcStat, cpu %)
        self.dropped_events = 0
        #: workers' events kept back for the next frame (see `sample`)
        self._held: list[tuple[float, int, float, EventView]] = []
        self._t0_ns = 0
        self.deadlocks = DeadlockWatch()
        self._slot_cells: dict[str, list[tuple[int, int, int]]] = {}
        self._checked: set[str] = set()
        self._waits: dict[int, object] = {}  # a program's pid -> what it waits in
        #: FIFO -> who holds it open ("read"/"write" -> workers), read from /proc on ticks
        self._fifo_cache: dict[str, dict[str, list[str]]] = {}
        #: pipe -> who holds each end, from every process's descriptors, and the
        #: processes whose descriptors the kernel hid (channel_views.py _pipe_ends)
        self._pipe_cache: dict[str, tuple[list, list[str]]] = {}
        self._array_shapes: dict[int, tuple[int, ...]] | None = None
        #: the inodes of the scenario's pipes and FIFOs (WorkerViews, read once)
        self._inodes: dict[int, str] | None = None
        #: one moment per frame: the readings, and how often one had to be taken again
        self.moments = MomentReader()
        #: each channel's kernel view, read in this frame's moment (channel_views.py)
        self._observed: dict[str, dict[str, Any]] = {}
        self._wait_changes: frozenset[str] | None = None
        self._stepping: tuple[int, list[int]] | None = None

    def sample(self, kernel: bool = True, flush: bool = False) -> Snapshot:
        """Everything on screen, read now. `kernel=False` (an early frame between two ticks
        of the clock, sent because a counter or an event changed) reads the telemetry
        table and the channels but reuses what /proc said at the last tick (states, cpu,
        signal masks): reading /proc for every process is most of a frame's cost.
        Events younger than EVENT_HOLD, the workers' and the runtime's, wait for the next
        frame (one that is dated earlier may still be on its way: a sender logs "sent"
        after kill() returns, and the receiver can log "woke" first; a worker's last event
        can land after the runtime reaped it); `flush` (the end of a run) gives them all."""
        self._fresh = kernel
        self._ticks += kernel
        if flush:  # the last frame: every mask read now
            self._mask_keys.clear()
        rt = self.runtime
        model = rt.model
        table = rt.table
        now = rt.elapsed
        channel_names = [c.name for c in rt.channels] or list(model.channels)
        rt.name_new_children()
        kids = rt.spawned()
        row_names = [p.name for p in rt.procs] + [""] * (
            table.layout.rows - len(rt.procs) if table is not None else 0)
        for kid in kids:
            row_names[kid.row] = kid.name
        if kernel:  # the /proc files of processes that are gone are given back
            self._stat_files.forget({p.ident.pid for p in rt.procs if p.alive and p.ident}
                                    | {k.ident.pid for k in kids if k.exit is None})
        arr, workers, channels, by_workers = self._one_moment(kids, channel_names, now,
                                                              final=flush)
        # (when, who, event): exact times order the workers' events (effect after cause
        # even within one millisecond); at equal shown times the runtime's (a timeline
        # signal, a key) come first: they are the cause
        keyed: list[tuple[float, int, float, EventView]] = []
        # each row's event count, read once: a row with nothing new is not looked at
        seqs = arr[:, T.EVENT_SEQ].tolist() if arr is not None else []
        seen = self._event_seen
        if table is not None:
            for row, name in [(p.row, p.name) for p in rt.procs] + [(k.row, k.name)
                                                                    for k in kids]:
                if seqs[row] > seen.get(row, 0):
                    keyed += self._events(row, name, channel_names, row_names)
        workers = self._with_next_ops(workers)
        keyed += [(e.t, 0, e.t, e) for e in rt.take_events()]
        keyed += self._held
        keyed.sort(key=lambda k: k[:3])
        if flush:
            self._held = []
        else:
            cut = now - EVENT_HOLD
            # the runtime's events wait too: its "exited" must not pass the worker's last
            # words, which can reach the table after the runtime has reaped it
            self._held = [k for k in keyed if k[2] > cut]
            keyed = [k for k in keyed if not k[2] > cut]
        events = [k[3] for k in keyed]
        rank_compared(channels, model.compare, now)
        # a cycle seen in two frames in a row is named; once named, it stays named while
        # it stands (a real one never goes away by itself)
        deadlock, first = self.deadlocks.frame(self._deadlock(workers, channels), workers,
                                               channels, now)
        if first and deadlock:
            events.append(EventView(round(now, 3), "runtime",
                                    "DEADLOCK: " + " → ".join(deadlock + deadlock[:1]), "exit"))
        self.seq += 1
        return Snapshot(
            scenario=rt.scenario.name,
            description=model.description,
            result=model.result or "",
            held_start=rt.scheduler.held_from is not None and not rt.scheduler.steps,
            steps=rt.scheduler.steps,
            schedule_length=len(rt.scheduler.schedule),
            elapsed=round(now, 3),
            running=rt.started and not rt.all_ended(),
            workers=tuple(workers),
            channels=channels,
            events=tuple(events),
            dropped_events=self.dropped_events,
            deadlock=deadlock, deadlock_seen=self.deadlocks.seen,
            deadlock_at=self.deadlocks.at,
            triggers=tuple((t.key, t.label or t.action) for t in model.triggers),
            seq=self.seq,
            parent_signals={
                "signals_received": {signal_name(s): n
                                     for s, n in sorted(rt.parent_received.items())},
                "signals_sent_to": names_of(by_workers.get(T.PARENT_ROW_TARGET, {}))},
            mode=rt.scheduler.mode, speed=rt.scheduler.speed,
            run_time=round(rt.run_time, 3),
        )

    def _one_moment(self, kids: list[SpawnedProc], channel_names: list[str], now: float,
                    final: bool = False) -> tuple[np.ndarray | None, list[WorkerView], tuple[ChannelView, ...],
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
        rt = self.runtime
        if rt.table is None:
            return None, *self._views_of(None, kids, channel_names, now)
        fresh, stats = self._fresh, self.moments.stats
        tries = 0

        def read() -> Moment:
            return self.moments.read(rt.table.array, self._stepping_rows(kids), rt.channels,
                                     lambda: self._moving_rows(kids),
                                     rt.table.layout.event_base,
                                     patience=FIRST_WAIT if final else None)

        moment = read()
        for _ in range(FINAL_TRIES if final else 0):
            if moment.whole:
                break
            moment = read()
        if final and not moment.whole:
            stats.unsettled += 1  # the latest reading, not an earlier one
            self.moments.last = moment
        while True:
            if not moment.whole and self.moments.last is not None:
                stats.earlier += 1  # (no views made of a reading that will not be shown)
                moment = self.moments.last
            views = self._views_of(moment, kids, channel_names, now)
            if moment is self.moments.last or (moment.whole and not self._broken(views[1])):
                self.moments.last = moment
                break
            self._fresh = False  # this tick's /proc readings stand
            last = self.moments.last
            if moment.whole and tries < REREADS:
                time.sleep(REREAD_PAUSE * 2 ** tries)
                tries += 1
                stats.rereads += 1
                moment = self.moments.read(rt.table.array, self._stepping_rows(kids),
                                           rt.channels, lambda: self._moving_rows(kids),
                                           rt.table.layout.event_base)
                continue
            if last is None or last is moment:
                stats.unsettled += 1
                break
            stats.earlier += 1
            moment = last
        self._fresh = fresh
        return moment.table, *views

    def _broken(self, channels: tuple[ChannelView, ...]) -> bool:
        """Whether a channel whose waits change it (Channel.WAIT_CHANGES_IT: a semaphore
        taken as a wait ends, counted a moment later) breaks a relation of its kind."""
        changing = self._wait_changes
        if changing is None:
            changing = self._wait_changes = frozenset(
                c.name for c in self.runtime.channels if c.WAIT_CHANGES_IT)
        return any(channel_relations(c, None) for c in channels if c.name in changing)

    def _views_of(self, moment: Moment | None, kids: list[SpawnedProc],
                  channel_names: list[str], now: float
                  ) -> tuple[list[WorkerView], tuple[ChannelView, ...], dict[int, dict[int, int]]]:
        """The workers' and channels' views of one reading (None: no table yet)."""
        rt = self.runtime
        arr = moment.table if moment is not None else None
        self._observed = moment.observed if moment is not None else {}
        by_workers = self._sent_by_workers(arr, kids) if arr is not None else {}
        self._count_signals(arr)
        workers = [self._worker_view(p, arr[p.row] if arr is not None else None,
                                     channel_names, now, by_workers.get(p.row))
                   for p in rt.procs]
        if arr is not None:
            workers += [self._kid_view(k, arr[k.row], channel_names, now) for k in kids]
        channels = tuple(self._channel_view(name, spec, arr, workers, kids)
                         for name, spec in rt.model.channels.items())
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

    def _moving_rows(self, kids: list[SpawnedProc]) -> list[int]:
        """The rows a reading waits for (moment.moving_rows), from the last /proc look."""
        return moving_rows(self.runtime.procs, kids, self._stats)

    def _with_next_ops(self, workers: list) -> list:
        """Each held worker's next operation, while the run is not simply running (the
        scheduler reads the kernel state of every worker for it: not on the hot path)."""
        sched = self.runtime.scheduler
        if sched.mode == "run" or self.runtime.table is None:
            return workers
        ops = sched.next_ops()
        out = []
        for view in workers:
            op = ops.get(view.name)
            out.append(view if op is None else
                       replace(view, next_op=NextOp(op.kind, op.channel, op.detail)))
        return out

    def _sent_by_workers(self, arr: np.ndarray, kids: list[SpawnedProc]
                         ) -> dict[int, dict[int, int]]:
        """Signals the workers' own `signal` steps sent, per target row (-1: the runtime)
        and signal number, added up from each sender's "sent to" cells."""
        rt = self.runtime
        out: dict[int, dict[int, int]] = {}
        senders = [(p.row, p.instance.group) for p in rt.procs] + [(k.row, k.group) for k in kids]
        for row, group in senders:
            cells = self._slot_cells.get(group)
            if cells is None:
                slots = rt.scenario.plan.signal_slots.get(group, {})
                base = rt.table.layout.sent_to_base  # type: ignore[union-attr]
                cells = self._slot_cells[group] = [(base + slot, target, sig) for
                                                   (target, sig), slot in slots.items()]
            for cell, target, sig in cells:
                sent = int(arr[row, cell])
                if sent:
                    counts = out.setdefault(target, {})
                    counts[sig] = counts.get(sig, 0) + sent
        return out

    def _events(self, row: int, name: str, channel_names: list[str], row_names: list[str]
                ) -> list[tuple[float, int, float, EventView]]:
        table = self.runtime.table
        assert table is not None
        seen = self._event_seen.get(row, 0)
        raw, seq, dropped = table.events_since(row, seen)
        self._event_seen[row] = seq
        self.dropped_events += dropped
        out = []
        t0_ns = int(self.runtime.t0 * 1e9)
        for t_ns, kind, a, b in raw:
            text, category = describe_event(kind, a, b, channel_names, row_names,
                                            self._shapes())
            exact = (t_ns - t0_ns) / 1e9
            shown = round(exact, 3)
            out.append((shown, 1, exact, EventView(shown, name, text, category)))
        return out

    def _shapes(self) -> dict[int, tuple[int, ...]]:
        """Each shared array's shape by channel index (events name an element [row, col])."""
        shapes = self._array_shapes
        if shapes is None:
            shapes = self._array_shapes = {c.index: tuple(c.shape) for c in self.runtime.channels
                                           if getattr(c, "shape", None) is not None}
        return shapes

    def close(self) -> None:
        """Give back the /proc files kept open (the garbage collector does it too)."""
        self._stat_files.close()

    def _read_stat(self, pid: int, now: float, raw: bytes | None = None
                   ) -> tuple[Any, float]:
        """(/proc/PID/stat, cpu % since the last reading), or the last tick's pair; `raw`:
        the file's bytes, when the caller has just read them."""
        if not self._fresh and pid in self._stats:
            return self._stats[pid]  # type: ignore[return-value]
        if raw is None:
            raw = self._stat_files.read_raw(pid)
        stat = parse_stat(raw) if raw else None
        cpu = 0.0
        if stat is not None:
            prev = self._cpu_prev.get(pid)
            if prev is not None and now > prev[1]:
                cpu = 100.0 * (stat.cpu_ticks - prev[0]) / CLOCK_TICKS / (now - prev[1])
            self._cpu_prev[pid] = (stat.cpu_ticks, now)
        if len(self._stats) > 4096:
            self._stats.clear()
            self._stat_files.forget(set())
        self._stats[pid] = (stat, cpu)
        return stat, cpu

    def _read_masks(self, pid: int, key: tuple = ()) -> dict[str, list[str]]:
        """The process's signal masks: read at a tick when `key` (what could have changed
        them: its events, deliveries, signals sent to it) moved since the last reading,
        else every MASKS_EVERY ticks (a signal of the kernel's own, SIGCHLD, can turn
        pending with nothing in the table)."""
        known = self._masks.get(pid)
        if known is not None and (not self._fresh or (
                self._mask_keys.get(pid) == key
                and self._ticks - self._mask_ticks.get(pid, 0) < MASKS_EVERY)):
            return known
        if len(self._masks) > 4096:
            self._masks.clear()
            self._mask_keys.clear()
            self._mask_ticks.clear()
        masks = self._masks[pid] = read_masks(pid) or {}
        self._mask_keys[pid], self._mask_ticks[pid] = key, self._ticks
        return masks

    def _count_signals(self, arr: np.ndarray | None) -> None:
        """Every row's received and sent signals by name, from one pass over the table's
        signal columns (received, then sent: SIG_SENT follows SIG_RECEIVED)."""
        self._signals_of = {}
        self._received_totals = None
        if arr is None:
            return
        # a copy: the workers write these cells meanwhile, and np.nonzero counts, then
        # fills, in two passes over its input (it raises when the count changed between)
        block = arr[:, T.SIG_RECEIVED:T.SIG_SENT + NSIG].copy()
        rows, cols = np.nonzero(block)
        out = self._signals_of
        for row, col, n in zip(rows.tolist(), cols.tolist(), block[rows, cols].tolist()):
            pair = out.get(row)
            if pair is None:
                pair = out[row] = ({}, {})
            if col < NSIG:
                pair[0][signal_name(col)] = n
            else:
                pair[1][signal_name(col - NSIG)] = n
        self._received_totals = block[:, :NSIG].sum(axis=1)

    def _signal_counts(self, row: int, which: int) -> dict[str, int]:
        """Row `row`'s received (`which` 0) or sent (1) signals, by name (_count_signals)."""
        pair = self._signals_of.get(row)
        return dict(pair[which]) if pair is not None else {}

    def _received_total(self, row: int) -> int:
        totals = self._received_totals
        return int(totals[row]) if totals is not None else 0

