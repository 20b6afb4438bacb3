"""The sampler's collaborator that makes one WorkerView: counters of the worker's row beside
the kernel's view of its process (state, cpu, signal masks, proven merges)."""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ipcviz.host.process import zombie_children
from ipcviz.runtime.proc_reader import Masks, ProcReader
from ipcviz.runtime.procmasks import without_hidden
from ipcviz.runtime.program_views import ProgramViews
from ipcviz.runtime.row_signals import RowSignals
from ipcviz.runtime.signal_merges import MergeProofs
from ipcviz.runtime.worker_state import step_words, worker_state
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.signals import NSIG, signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.events import row_failure
from ipcviz.telemetry.snapshot import Waiting, WorkerView, quick

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ipcviz.runtime.procs import Proc, SpawnedProc
    from ipcviz.runtime.supervisor import Runtime


#: Counters per channel kind: (counter cell, summary key, role that owns it)
_STREAM_COUNTERS = ((T.BYTES_WRITTEN, "bytes_written", "write"),
                    (T.BYTES_READ, "bytes_read", "read"))
#: the summary keys of a worker's per-channel counters
_COUNTER_KEYS = ("bytes_written", "bytes_read", "increments", "messages_sent",
                 "messages_received")


_USES_LOCK: dict[int, tuple[object, bool]] = {}


def uses_lock(definition: Any) -> bool:
    """Whether some step (nested ones too) takes a `lock:` (the `l` key's switch); worked
    out once per definition."""
    known = _USES_LOCK.get(id(definition))
    if known is None or known[0] is not definition:
        from ipcviz.scenario.schema import all_steps

        found = any(getattr(step.args, "lock", None) for step in all_steps(definition.steps))
        known = _USES_LOCK[id(definition)] = (definition, found)
    return known[1]


class Seen(NamedTuple):
    """What the kernel (and, for a worker, its row) says of a worker's process now."""

    state: str
    waiting: Waiting | None
    cpu: float
    masks: Masks
    zombies: int
    merged: dict[str, int]


class WorkerViews:
    """Worker rows to WorkerViews: the runtime's processes, their /proc readings
    (`procs`), the frame's signal counts (`signals`), the merges the counts prove
    (`merges`) and the programs' own facts (`programs`)."""

    def __init__(self, runtime: Runtime, procs: ProcReader, signals: RowSignals,
                 merges: MergeProofs, programs: ProgramViews) -> None:
        self.runtime = runtime
        self.procs = procs
        self.signals = signals
        self.merges = merges
        self.programs = programs
        #: (summary key, channel, cell) of each worker's counters, by worker or definition
        self._counters: dict[str, list[tuple[str, str, int]]] = {}
        #: worker -> (what its last view was made of, that view): see `_view`
        self._views: dict[str, tuple[tuple[object, ...], WorkerView]] = {}
        #: per worker: what its view was made of at the last tick, and that view
        self._unmoved: dict[str, tuple[tuple[object, ...], WorkerView]] = {}
        #: per worker: what its last view of the last tick's reading was made of (that
        #: tick's number first), and that view: see `_between`
        self._read_in: dict[str, tuple[tuple[object, ...], WorkerView]] = {}

    def _counter_cells(self, key: str, channel_roles: Mapping[str, frozenset[str]]
                       ) -> list[tuple[str, str, int]]:
        """(summary key, channel, cell in the row) of every counter a worker with these
        channel roles shows; worked out once per worker (or spawned definition)."""
        cached = self._counters.get(key)
        if cached is not None:
            return cached
        out: list[tuple[str, str, int]] = []
        rt = self.runtime
        assert rt.table is not None
        layout = rt.table.layout
        for name, roles in channel_roles.items():
            index = rt.channel_by_name[name].index
            counters = CHANNELS[rt.model.channels[name].kind].counters
            if counters == "array":
                out.append(("increments", name, layout.channel_cell(index, T.INCREMENTS)))
                if "read" in roles:
                    out.append(("bytes_read", name, layout.channel_cell(index, T.BYTES_READ)))
            elif counters == "messages":
                if "send" in roles:
                    out.append(("messages_sent", name,
                                layout.channel_cell(index, T.MESSAGES_SENT)))
                if "receive" in roles:
                    out.append(("messages_received", name,
                                layout.channel_cell(index, T.MESSAGES_RECEIVED)))
            elif counters == "bytes":
                if "server" in roles:
                    roles = roles | {"read", "write"}
                for counter, what, role in _STREAM_COUNTERS:
                    if role in roles:
                        out.append((what, name, layout.channel_cell(index, counter)))
        self._counters[key] = out
        return out

    def _counter_fields(self, key: str, channel_roles: Mapping[str, frozenset[str]],
                        row: np.ndarray | None) -> dict[str, dict[str, int]]:
        """The view's fields of the row's channel counters, by channel (increments only
        where nonzero)."""
        per_channel: dict[str, dict[str, int]] = {what: {} for what in _COUNTER_KEYS}
        if row is not None:
            for what, name, cell in self._counter_cells(key, channel_roles):
                per_channel[what][name] = int(row[cell])
        per_channel["increments"] = {k: v for k, v in per_channel["increments"].items() if v}
        return per_channel

    def kid_view(self, kid: SpawnedProc, row: np.ndarray, channel_names: list[str],
                 now: float) -> WorkerView:
        """The view of a child a worker spawned (NAME#N): its row and its process."""
        rt = self.runtime
        stat = self.procs.stat(kid.ident.pid, now)[0] if kid.exit is None else None
        masks: Masks = {}
        merged: dict[str, int] = {}
        waiting = None
        sent_to: dict[int, int] = rt.kid_sent_to.get(kid.row, {})
        if stat is not None and stat.start_ticks == kid.ident.start:
            state, waiting = worker_state(stat.state, int(row[T.OP]), row, channel_names)
            if state != "zombie":
                masks = self.procs.masks(kid.ident.pid, (
                    int(row[T.EVENT_SEQ]), sum(sent_to.values()), stat.signal_bits))
                if row[T.HIDDEN_BLOCK]:
                    masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
                merged = self.merges.update(kid.ident.pid, self.procs.fresh, stat.state,
                                            masks, sent_to, row)
        else:
            state = "exited"
        exit = kid.exit
        exit_text = "" if exit is None else (f"killed by {exit}" if isinstance(exit, str)
                                             else f"exited {exit}")
        if state == "zombie":
            exit_text = "zombie: exited, parent has not waited"
        # a spawned worker moves bytes and messages too: its own counters, as for any worker
        return quick(
            WorkerView,
            name=kid.name, group=kid.group, pid=kid.ident.pid, state=state,
            waiting=waiting, exit=exit, exit_text=exit_text, parent=kid.parent,
            signals_received=self.signals.received(kid.row),
            signals_sent=self.signals.sent(kid.row),
            signals_sent_to={signal_name(s): n for s, n in sorted(sent_to.items())},
            step_text=T.OP_NAMES.get(int(row[T.OP]), ""), masks=masks,
            **self._counter_fields("#" + kid.group,
                                   rt.scenario.plan.roles.get(kid.group, {}), row),
            duplicates=int(row[T.DUPLICATES]), self_reads=int(row[T.SELF_READS]),
            epipe_errors=int(row[T.EPIPE]),
            failure=row_failure(row, channel_names), signals_merged=merged,
        )

    def worker_view(self, proc: Proc, row: np.ndarray | None, channel_names: list[str],
                    now: float, by_workers: dict[int, int] | None = None) -> WorkerView:
        """The view of one worker; a worker in which nothing moved since the last tick (its
        /proc/PID/stat bytes, its row, what was sent to it) keeps last tick's view without
        a parse: most of many idle workers' cost was finding out that nothing changed."""
        pid = proc.ident.pid if proc.ident else None
        if not (proc.alive and pid and row is not None and not proc.spawn_rows
                and proc.instance.definition.exec is None and proc.attached_argv is None):
            return self._view(proc, row, channel_names, now, by_workers)
        cells = row_key(row)
        if not self.procs.fresh:
            return self._between(proc, row, channel_names, now, by_workers, cells)
        raw = self.procs.read_raw(pid)
        key = (raw, cells, pid, proc.restarts, proc.exit,
               tuple(proc.sent_to.items()), tuple((by_workers or {}).items()),
               self.signals.received_total(proc.row))
        last = self._unmoved.get(proc.name)
        if not (raw and last is not None and last[0] == key and last[1].cpu == 0.0
                and self.procs.still_idle(pid, now)):
            last = self._unmoved[proc.name] = (key, self._view(
                proc, row, channel_names, now, by_workers, raw, cells))
        self._read_in[proc.name] = (self._between_key(proc, cells), last[1])
        return last[1]

    def _between_key(self, proc: Proc, cells: RowKey) -> tuple[object, ...]:
        """What a worker's view between two ticks is made of: its row, who the process is,
        and which tick's /proc reading (its state, cpu and masks stand until the next)."""
        return (self.procs.ticks, cells, proc.ident, proc.alive, proc.exit, proc.restarts)

    def _between(self, proc: Proc, row: np.ndarray, channel_names: list[str], now: float,
                 by_workers: dict[int, int] | None, cells: RowKey) -> WorkerView:
        """A worker's view in an early frame: one whose row did not move since its last
        view of the same tick's reading is that view (an answer to a key is such a frame;
        at 512 workers most of its cost was finding that rows had not moved). A worker
        sent signals is made anew: what they prove merged is worked out every frame."""
        if proc.sent_to or by_workers:
            return self._view(proc, row, channel_names, now, by_workers, None, cells)
        key = self._between_key(proc, cells)
        last = self._read_in.get(proc.name)
        if last is not None and last[0] == key:
            return last[1]
        view = self._view(proc, row, channel_names, now, by_workers, None, cells)
        self._read_in[proc.name] = (key, view)
        return view

    def _seen(self, proc: Proc, row: np.ndarray | None, program: list[str] | None,
              channel_names: list[str], now: float, by_workers: dict[int, int] | None,
              raw: bytes | None) -> Seen:
        """What the kernel says of the worker's process now, read beside its row."""
        pid = proc.ident.pid if proc.ident else None
        if not (proc.alive and pid):
            if not proc.started_once:
                return Seen("starting", None, 0.0, {}, 0, {})
            # merges proven while it lived stay true once it has ended
            return Seen("exited", None, 0.0, {}, 0, self.merges.proven(pid) if pid else {})
        stat, cpu = self.procs.stat(pid, now, raw)
        if stat is None:
            return Seen("exited", None, cpu, {}, 0, {})
        if program is not None:  # no interpreter: only the kernel tells
            state, waiting = self.programs.state(pid, stat.state)
            masks = self.procs.masks(pid, (sum(proc.sent_to.values()), stat.signal_bits))
            return Seen(state, waiting, cpu, masks, zombie_children(pid), {})
        assert row is not None  # (a worker that runs steps has its row from its start)
        state, waiting = worker_state(stat.state, int(row[T.OP]), row, channel_names)
        # what can change its masks shows in its row (an event: handlers, block,
        # unblock; a delivery) or in what was sent to it (pending)
        bits = stat.signal_bits
        masks = self.procs.masks(pid, (
            int(row[T.EVENT_SEQ]), self.signals.received_total(proc.row),
            sum(proc.sent_to.values()), sum((by_workers or {}).values()), bits),
            asleep=stat.state == "S" and bits[:2] == (b"0", b"0") and stat.threads == 1)
        if row[T.HIDDEN_BLOCK]:
            masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
        merged: dict[str, int] = {}
        if proc.sent_to or by_workers:  # (nothing sent: nothing merged)
            life = Counter(proc.sent_to - proc.sent_before_life if proc.restarts
                           else proc.sent_to)
            life.update(Counter(by_workers or {}) - proc.workers_sent_before_life)
            merged = self.merges.update(
                pid, self.procs.fresh, stat.state, masks, life, row,
                proc.received_before_life if proc.restarts else None)
        zombies = zombie_children(pid) if proc.spawn_rows else 0
        return Seen(state, waiting, cpu, masks, zombies, merged)

    def _view(self, proc: Proc, row: np.ndarray | None, channel_names: list[str],
              now: float, by_workers: dict[int, int] | None = None,
              raw: bytes | None = None, cells: RowKey | None = None) -> WorkerView:
        """The view made of the worker's row and what the kernel says of it (`cells`: the
        row's key, when the caller made it). An idle worker's view is the one made last
        time (everything it is made of is the same); a worker in which only what moves
        with every step moved (`moving_fields`: its step, loops, state, cpu, masks...)
        gets last time's view with those fields made anew, the rest (its signals and
        counters by name, what was sent to it) being equal by the key."""
        program = proc.instance.definition.exec
        if proc.attached_argv is not None:  # a running process of the user's (attach:)
            program = proc.attached_argv or [f"process {proc.ident.pid if proc.ident else 0}"]
        seen = self._seen(proc, row, program, channel_names, now, by_workers, raw)
        if program is not None:  # (a program's facts change by themselves)
            return self._make(proc, row, program, seen, channel_names, by_workers)
        if cells is None and row is not None:
            cells = row_key(row)
        # everything the view is made of: what lasts (the row's signal cells, who the
        # process is, what was sent to it), its channel counters, then what moves
        key = (cells[3] if cells is not None else None,
               proc.ident.pid if proc.ident else None, proc.alive, proc.exit, proc.restarts,
               tuple(proc.sent_to.items()), tuple((by_workers or {}).items()),
               cells[4] if cells is not None else None,
               cells, seen.state, seen.waiting, round(seen.cpu, 1), seen.zombies)
        known = self._views.get(proc.name)
        if known is None:
            view = self._make(proc, row, program, seen, channel_names, by_workers)
        elif (known[0] == key and known[1].masks == seen.masks
              and known[1].signals_merged == seen.merged):
            return known[1]
        elif (row is not None and known[0][:LASTING] == key[:LASTING]
              and not row[T.FAILURE] and not known[1].failure):  # (words of a channel)
            view = object.__new__(WorkerView)
            view.__dict__.update(known[1].__dict__)
            view.__dict__.update(moving_fields(proc, row, program, seen))
            if known[0][LASTING] != key[LASTING]:
                view.__dict__.update(self._counter_fields(proc.name, proc.roles, row))
        else:
            view = self._make(proc, row, program, seen, channel_names, by_workers)
        self._views[proc.name] = (key, view)
        return view

    def _make(self, proc: Proc, row: np.ndarray | None, program: list[str] | None,
              seen: Seen, channel_names: list[str], by_workers: dict[int, int] | None
              ) -> WorkerView:
        """A new WorkerView of `proc`, from its row and what the kernel said (`seen`)."""
        pid = proc.ident.pid if proc.ident else None
        received: dict[str, int] = {}
        sent: dict[str, int] = {}
        if row is not None:
            received = self.signals.received(proc.row)
            sent = self.signals.sent(proc.row)
        facts = None if program is None else self.programs.facts(proc.name, program, pid,
                                                                 proc.alive)
        if facts is not None and facts.get("trace") and proc.ident is not None:
            # strace counted every delivery: the program's own process, as a worker's
            received = dict(facts["trace"]["signals_by_process"].get(str(proc.ident.pid), {}))
        return quick(
            WorkerView,
            name=proc.name, group=proc.instance.group, pid=pid,
            exit=proc.exit, exit_text=proc.exit_text, restarts=proc.restarts,
            signals_received=received, signals_sent=sent,
            # sent to it by the runtime (timeline, triggers, keys) and by other workers
            signals_sent_to=names_of(proc.sent_to, by_workers or {}),
            **self._counter_fields(proc.name, proc.roles, row),
            failure=row_failure(row, channel_names),
            sent_this_life=(names_of(proc.sent_to - proc.sent_before_life,
                                     Counter(by_workers or {}) - proc.workers_sent_before_life)
                            if proc.restarts else None),
            received_this_life=(signal_counts(row[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG]
                                              - proc.received_before_life)
                                if proc.restarts and row is not None
                                and proc.received_before_life is not None else None),
            uses_lock=uses_lock(proc.instance.definition),
            program=facts,
            **moving_fields(proc, row, program, seen),
        )


#: a worker view's key (WorkerViews._view): its first LASTING parts are what the fields
#: other than `moving_fields` and the counters (`_counter_fields`, the next part) are
#: made of
LASTING = 7


def moving_fields(proc: Proc, row: np.ndarray | None, program: list[str] | None,
                  seen: Seen) -> dict[str, Any]:
    """The fields of a worker's view that move as it steps: what the kernel says of its
    process (`seen`) and its row's header cells (step, loops, pause, switches and counts
    of one cell each). The other fields are made only of the row's signal and channel
    cells and of the runtime's records of the worker (WorkerViews._view's key)."""
    steps = proc.instance.definition.steps
    step = int(row[T.STEP]) if row is not None else 0
    op = int(row[T.OP]) if row is not None else T.OP_STARTING
    return {
        "state": seen.state, "waiting": seen.waiting, "cpu": round(seen.cpu, 1),
        "step": step,
        "step_text": (step_words(steps[step].kind, op) if 0 <= step < len(steps) else
                      f"{'watch' if proc.attached_argv is not None else 'exec'} "
                      f"{os.path.basename(program[0])}" if program else ""),
        "loops": int(row[T.LOOPS]) if row is not None else 0,
        "paused": bool(row[T.CTRL_PAUSE] & T.PAUSE_WORKER) if row is not None else False,
        "lock_off": bool(row[T.CTRL_LOCK_OFF]) if row is not None else False,
        "duplicates": int(row[T.DUPLICATES]) if row is not None else 0,
        "self_reads": int(row[T.SELF_READS]) if row is not None else 0,
        "epipe_errors": int(row[T.EPIPE]) if row is not None else 0,
        "zombies": seen.zombies, "masks": seen.masks,
        "signals_merged": seen.merged if program is None else None,
    }


#: a row's key (`row_key`)
RowKey = tuple[bytes, int, bytes, bytes, bytes]


def row_key(row: np.ndarray) -> RowKey:
    """The row as far as its worker's view can show it: every cell but WAITS, of which a
    view shows only whether it is odd (inside a wait), the header's cells apart from the
    signal cells after them, and those apart from the channels' cells (the last part).
    A held worker's looks at its cell move WAITS on every frame; its view stays the
    same."""
    return (row[:T.WAITS].tobytes(), int(row[T.WAITS]) & 1,
            row[T.WAITS + 1:T.HEADER].tobytes(), row[T.HEADER:_CHANNEL_BASE].tobytes(),
            row[_CHANNEL_BASE:].tobytes())


#: where a row's channel cells begin (telemetry/table.py's Layout.channel_base)
_CHANNEL_BASE = T.SIG_SENT + NSIG


def signal_counts(cells: np.ndarray) -> dict[str, int]:
    """Per-signal counts of a row's signal cells, by name."""
    nonzero = np.flatnonzero(cells)
    return {signal_name(int(n)): int(cells[n]) for n in nonzero}


def names_of(*counts: dict[int, int]) -> dict[str, int]:
    """Per-signal counts added up, by signal name, in signal-number order."""
    total: dict[int, int] = {}
    for part in counts:
        for sig, n in part.items():
            total[sig] = total.get(sig, 0) + n
    return {signal_name(sig): n for sig, n in sorted(total.items())}
