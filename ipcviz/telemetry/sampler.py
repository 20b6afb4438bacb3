"""Build Snapshots: the workers' own counters (telemetry table) plus the kernel's view
(/proc/PID/stat and status, channel observations), side by side.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ipcviz.host.process import CLOCK_TICKS, read_stat, zombie_children
from ipcviz.scenario.kinds import CHANNELS, READING_ROLES, WRITING_ROLES
from ipcviz.signals import NSIG, mask_names, signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.deadlock import find_cycle
from ipcviz.telemetry.snapshot import ChannelView, EventView, Snapshot, WorkerView

if TYPE_CHECKING:
    from ipcviz.runtime.supervisor import Proc, Runtime, SpawnedProc

_MASK_FIELDS = {b"SigPnd": "pending", b"ShdPnd": "shared_pending", b"SigBlk": "blocked",
                b"SigIgn": "ignored", b"SigCgt": "caught"}
#: Counters of a "bytes" channel (kinds.CHANNELS): (counter cell, summary key, role that owns it)
_STREAM_COUNTERS = ((T.BYTES_WRITTEN, "bytes_written", "write"),
                    (T.BYTES_READ, "bytes_read", "read"))


_MASK_ORDER = (b"SigPnd", b"ShdPnd", b"SigBlk", b"SigIgn", b"SigCgt")
_MASK_NAMES: dict[int, list[str]] = {}  # masks rarely change: decode each value once


def _names(mask: int) -> list[str]:
    names = _MASK_NAMES.get(mask)
    if names is None:
        if len(_MASK_NAMES) > 4096:
            _MASK_NAMES.clear()
        names = _MASK_NAMES[mask] = mask_names(mask)
    return list(names)


def read_masks(pid: int) -> dict[str, list[str]] | None:
    """Signal masks of a process from /proc/PID/status, decoded to names."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    out = {}
    start = blob.find(b"\nSigPnd:")  # the five mask lines come one after the other
    lines = blob[start + 1:].split(b"\n", 5)[:5] if start >= 0 else blob.split(b"\n")
    for line in lines:
        key, _, value = line.partition(b":")
        name = _MASK_FIELDS.get(key)
        if name is not None:
            out[name] = _names(int(value.strip(), 16))
    return out


def without_hidden(masks: dict[str, list[str]], hidden: int) -> dict[str, list[str]]:
    """The masks with ipcviz's own momentary blocks (T.HIDDEN_BLOCK) left out."""
    names = set(mask_names(hidden))
    return {**masks, "blocked": [n for n in masks.get("blocked", []) if n not in names]}


def describe_event(kind: int, a: int, b: int, channel_names: list[str],
                   row_names: list[str]) -> tuple[str, str]:
    """Text and category of one event from a worker's ring."""
    def ch(i: int) -> str:
        return channel_names[i] if 0 <= i < len(channel_names) else f"#{i}"

    if kind == T.EV_STARTED:
        return f"started (pid {a})", "start"
    if kind == T.EV_SIGNAL:
        how = {1: "handled (log)", 2: "handled: exiting"}.get(b, "handled")
        return f"{signal_name(a)} {how}", "signal"
    if kind == T.EV_EOF:
        return f"end of file on {ch(a)}: every writer has gone", "io"
    if kind == T.EV_EPIPE:
        times = f" (failure #{b})" if b > 1 else ""
        return f"write to {ch(a)} failed: EPIPE (no reader left){times}", "io"
    if kind == T.EV_EXITING:
        return f"steps done, exiting with status {a}", "exit"
    if kind == T.EV_SENT:
        row, count = b >> 20, b & 0xFFFFF
        target = "parent (runtime)" if row < 0 else (
            row_names[row] if row < len(row_names) else f"row {row}")
        return f"sent {signal_name(a)} ×{count} to {target}", "signal"
    if kind == T.EV_SPAWNED:
        return f"spawned {_row(a, row_names)} (pid {b})", "start"
    if kind == T.EV_REAPED:
        return f"reaped {_row(a, row_names)} (waitpid)", "exit"
    if kind == T.EV_SPAWN_LIMIT:
        return f"spawn refused: all {a} child rows used", "info"
    if kind == T.EV_PROCESS_CAP:
        return f"spawn refused: process cap {a} reached", "info"
    if kind == T.EV_SELF_READ:
        return f"read its OWN message back from {ch(a)} ({b} bytes)", "io"
    if kind == T.EV_SEND_FULL:
        return f"send to {ch(a)} failed: queue full (non-blocking)", "io"
    if kind == T.EV_RETRY:
        return f"no ack in time: sent message #{b} to {ch(a)} AGAIN", "io"
    if kind == T.EV_DUPLICATE:
        return f"DUPLICATE: message #{b} from {ch(a)} arrived before", "io"
    if kind == T.EV_SET:
        where = "every element" if b < 0 else f"element {b}"
        return f"wrote {ch(a)}: {where}", "io"
    if kind == T.EV_READ_ARRAY:
        return f"read {ch(a)} (sum {b})", "io"
    if kind == T.EV_WAITED:
        return f"woke: {signal_name(a)} arrived", "signal"
    if kind == T.EV_BLOCK:
        return f"blocked {signal_name(a)}" + (f" (+{b - 1} more)" if b > 1 else ""), "signal"
    if kind == T.EV_FAILED:
        op, channel = b >> 20, b & 0xFFFFF
        name = ch(channel) if channel != 0xFFFFF else None
        return failure_text(a, op, name) + "; worker ends", "exit"
    if kind == T.EV_UNBLOCK:
        return f"unblocked {signal_name(a)}" + (f" (+{b - 1} more)" if b > 1 else ""), "signal"
    return f"event {kind} ({a}, {b})", "info"


def failure_text(error: int, op: int, channel: str | None) -> str:
    """Why a step ended its worker (T.FAILURE): "send to jobs failed: ENOSPC (No space
    left on device)", "spawn failed: fork() EAGAIN (Resource temporarily unavailable)"."""
    what = T.OP_NAMES.get(op, "step")
    if op == T.OP_SPAWN:
        what += " failed: fork()"
    elif channel is not None:
        what += f" {'to' if op in (T.OP_WRITE, T.OP_SEND) else 'on'} {channel} failed:"
    else:
        what += " failed:"
    return f"{what} {errno.errorcode.get(error, str(error))} ({os.strerror(error)})"


def _failure(row: np.ndarray | None, channel_names: list[str]) -> str:
    if row is None or not row[T.FAILURE]:
        return ""
    channel = int(row[T.FAILURE_CHANNEL])
    return failure_text(int(row[T.FAILURE]), int(row[T.FAILURE_OP]),
                        channel_names[channel] if 0 <= channel < len(channel_names) else None)


def _row(row: int, row_names: list[str]) -> str:
    return row_names[row] if 0 <= row < len(row_names) and row_names[row] else f"row {row}"


class Sampler:
    """Turns the runtime's state into Snapshots at the caller's pace."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.seq = 0
        self._event_seen: dict[int, int] = {}
        self._cpu_prev: dict[int, tuple[int, float]] = {}
        self._counters: dict[str, list[tuple[str, str, int]]] = {}
        self._masks: dict[int, dict[str, list[str]]] = {}
        self._ends: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._fresh = True
        self._stats: dict[int, tuple[object, float]] = {}  # pid -> (ProcStat, cpu %)
        self.dropped_events = 0
        self._t0_ns = 0
        self.deadlock_seen: tuple[str, ...] | None = None
        self._candidate: tuple[str, ...] | None = None
        self.deadlock_at: float | None = None
        self._slot_cells: dict[str, list[tuple[int, int, int]]] = {}
        self._checked: set[str] = set()

    def sample(self, kernel: bool = True) -> Snapshot:
        """Everything on screen, read now. `kernel=False` (an early frame between two ticks
        of the clock, sent because a counter or an event changed) reads the telemetry
        table and the channels but reuses what /proc said at the last tick (states, cpu,
        signal masks): reading /proc for every process is most of a frame's cost."""
        self._fresh = kernel
        rt = self.runtime
        model = rt.model
        table = rt.table
        now = rt.elapsed
        channel_names = [c.name for c in rt.channels] or list(model.channels)
        kids = rt.spawned()
        row_names = [p.name for p in rt.procs] + [""] * (
            table.layout.rows - len(rt.procs) if table is not None else 0)
        for kid in kids:
            row_names[kid.row] = kid.name
        arr = table.array if table is not None else None
        events: list[EventView] = []
        workers = []
        by_workers = self._sent_by_workers(arr, kids) if arr is not None else {}
        for proc in rt.procs:
            row = arr[proc.row] if arr is not None else None
            workers.append(self._worker_view(proc, row, channel_names, now,
                                             by_workers.get(proc.row)))
            if table is not None:
                events += self._events(proc.row, proc.name, channel_names, row_names)
        for kid in kids:
            workers.append(self._kid_view(kid, arr[kid.row], channel_names, now))
            events += self._events(kid.row, kid.name, channel_names, row_names)
        events += rt.take_events()
        events.sort(key=lambda e: e.t)
        channels = tuple(self._channel_view(name, spec, arr, workers, kids) for name, spec in
                         model.channels.items())
        candidate = self._deadlock(workers, channels)
        # counters and kernel states are read at slightly different instants: only a cycle
        # seen in two samples in a row is a deadlock (a real one never goes away by itself)
        deadlock = candidate if candidate and candidate == self._candidate else None
        self._candidate = candidate
        if deadlock and self.deadlock_seen is None:
            self.deadlock_seen, self.deadlock_at = deadlock, round(now, 3)
            events.append(EventView(round(now, 3), "runtime",
                                    "DEADLOCK: " + " → ".join(deadlock + deadlock[:1]), "exit"))
        self.seq += 1
        return Snapshot(
            scenario=rt.scenario.name,
            description=model.description,
            elapsed=round(now, 3),
            running=rt.started and not rt.all_ended(),
            workers=tuple(workers),
            channels=channels,
            events=tuple(events),
            dropped_events=self.dropped_events,
            deadlock=deadlock, deadlock_seen=self.deadlock_seen, deadlock_at=self.deadlock_at,
            triggers=tuple((t.key, t.label or t.action) for t in model.triggers),
            seq=self.seq,
            parent_signals={
                "signals_received": {signal_name(s): n
                                     for s, n in sorted(rt.parent_received.items())},
                "signals_sent_to": _names_of(by_workers.get(T.PARENT_ROW_TARGET, {}))},
        )

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
                ) -> list[EventView]:
        table = self.runtime.table
        assert table is not None
        seen = self._event_seen.get(row, 0)
        raw, seq, dropped = table.events_since(row, seen)
        self._event_seen[row] = seq
        self.dropped_events += dropped
        out = []
        t0_ns = int(self.runtime.t0 * 1e9)
        for t_ns, kind, a, b in raw:
            text, category = describe_event(kind, a, b, channel_names, row_names)
            out.append(EventView(round((t_ns - t0_ns) / 1e9, 3), name, text, category))
        return out

    def _read_stat(self, pid: int, now: float) -> tuple[Any, float]:
        """(/proc/PID/stat, cpu % since the last reading), or the last tick's pair."""
        if not self._fresh and pid in self._stats:
            return self._stats[pid]  # type: ignore[return-value]
        stat = read_stat(pid)
        cpu = 0.0
        if stat is not None:
            prev = self._cpu_prev.get(pid)
            if prev is not None and now > prev[1]:
                cpu = 100.0 * (stat.cpu_ticks - prev[0]) / CLOCK_TICKS / (now - prev[1])
            self._cpu_prev[pid] = (stat.cpu_ticks, now)
        if len(self._stats) > 4096:
            self._stats.clear()
        self._stats[pid] = (stat, cpu)
        return stat, cpu

    def _read_masks(self, pid: int) -> dict[str, list[str]]:
        if not self._fresh and pid in self._masks:
            return self._masks[pid]
        if len(self._masks) > 4096:
            self._masks.clear()
        masks = self._masks[pid] = read_masks(pid) or {}
        return masks

    def _counter_cells(self, key: str, channel_roles: dict[str, set[str]]
                       ) -> list[tuple[str, str, int]]:
        """(summary key, channel, cell in the row) of every counter a worker with these
        channel roles shows; worked out once per worker (or spawned definition)."""
        cached = self._counters.get(key)
        if cached is not None:
            return cached
        out: list[tuple[str, str, int]] = []
        layout = self.runtime.table.layout  # type: ignore[union-attr]
        for name, roles in channel_roles.items():
            index = self.runtime.channel_by_name[name].index
            counters = CHANNELS[self.runtime.model.channels[name].kind].counters
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
                for counter, key, role in _STREAM_COUNTERS:
                    if role in roles:
                        out.append((key, name, layout.channel_cell(index, counter)))
        self._counters[key] = out
        return out

    def _per_channel(self, key: str, channel_roles: dict[str, set[str]], row: np.ndarray | None
                     ) -> dict[str, dict[str, int]]:
        """The row's counters per summary key and channel."""
        per_channel: dict[str, dict[str, int]] = {
            "bytes_written": {}, "bytes_read": {}, "increments": {}, "messages_sent": {},
            "messages_received": {}}
        if row is not None:
            for what, name, cell in self._counter_cells(key, channel_roles):
                per_channel[what][name] = int(row[cell])
        return per_channel

    def _kid_view(self, kid: SpawnedProc, row: np.ndarray, channel_names: list[str],
                  now: float) -> WorkerView:
        stat = self._read_stat(kid.ident.pid, now)[0] if kid.exit is None else None
        masks: dict[str, list[str]] = {}
        blocked_on = None
        if stat is not None and stat.start_ticks == kid.ident.start:
            state, blocked_on = self._state(stat.state, int(row[T.OP]), row, channel_names)
            if state != "zombie":
                masks = self._read_masks(kid.ident.pid)
                if row[T.HIDDEN_BLOCK]:
                    masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
        else:
            state = "exited"
        exit = kid.exit
        exit_text = "" if exit is None else (f"killed by {exit}" if isinstance(exit, str)
                                             else f"exited {exit}")
        if state == "zombie":
            exit_text = "zombie: exited, parent has not waited"
        sent_to = self.runtime.kid_sent_to.get(kid.row, {})
        # a spawned worker moves bytes and messages too: its own counters, as for any worker
        per_channel = self._per_channel("#" + kid.group,
                                        self.runtime.scenario.plan.roles.get(kid.group, {}), row)
        return WorkerView(
            name=kid.name, group=kid.group, pid=kid.ident.pid, state=state,
            blocked_on=blocked_on, exit=exit, exit_text=exit_text, parent=kid.parent,
            signals_received=_signal_counts(row[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG]),
            signals_sent=_signal_counts(row[T.SIG_SENT:T.SIG_SENT + NSIG]),
            signals_sent_to={signal_name(s): n for s, n in sorted(sent_to.items())},
            step_text=T.OP_NAMES.get(int(row[T.OP]), ""), masks=masks,
            bytes_written=per_channel["bytes_written"], bytes_read=per_channel["bytes_read"],
            increments={k: v for k, v in per_channel["increments"].items() if v},
            messages_sent=per_channel["messages_sent"],
            messages_received=per_channel["messages_received"],
            duplicates=int(row[T.DUPLICATES]), self_reads=int(row[T.SELF_READS]),
            epipe_errors=int(row[T.EPIPE]),
            failure=_failure(row, channel_names),
        )

    def _worker_view(self, proc: Proc, row: np.ndarray | None, channel_names: list[str],
                     now: float, by_workers: dict[int, int] | None = None) -> WorkerView:
        pid = proc.ident.pid if proc.ident else None
        state, blocked_on, cpu, masks, zombies = "starting", None, 0.0, {}, 0
        op = int(row[T.OP]) if row is not None else T.OP_STARTING
        if proc.alive and pid:
            stat, cpu = self._read_stat(pid, now)
            if stat is None:
                state = "exited"
            else:
                state, blocked_on = self._state(stat.state, op, row, channel_names)
                masks = self._read_masks(pid)
                if row is not None and row[T.HIDDEN_BLOCK]:
                    masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
                if proc.spawn_rows:
                    zombies = zombie_children(pid)
        elif proc.started_once:
            state = "exited"
        received = sent = {}
        per_channel = self._per_channel(proc.name, proc.roles, row)
        if row is not None:
            received = _signal_counts(row[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG])
            sent = _signal_counts(row[T.SIG_SENT:T.SIG_SENT + NSIG])
        steps = proc.instance.definition.steps
        step = int(row[T.STEP]) if row is not None else 0
        return WorkerView(
            name=proc.name, group=proc.instance.group, pid=pid, state=state,
            blocked_on=blocked_on, exit=proc.exit, exit_text=proc.exit_text,
            restarts=proc.restarts, cpu=round(cpu, 1), step=step,
            step_text=steps[step].kind if 0 <= step < len(steps) else "",
            loops=int(row[T.LOOPS]) if row is not None else 0,
            paused=bool(row[T.CTRL_PAUSE] & T.PAUSE_WORKER) if row is not None else False,
            lock_off=bool(row[T.CTRL_LOCK_OFF]) if row is not None else False,
            signals_received=received, signals_sent=sent,
            # sent to it by the runtime (timeline, triggers, keys) and by other workers
            signals_sent_to=_names_of(proc.sent_to, by_workers or {}),
            bytes_written=per_channel["bytes_written"], bytes_read=per_channel["bytes_read"],
            increments={k: v for k, v in per_channel["increments"].items() if v},
            messages_sent=per_channel["messages_sent"],
            messages_received=per_channel["messages_received"],
            duplicates=int(row[T.DUPLICATES]) if row is not None else 0,
            self_reads=int(row[T.SELF_READS]) if row is not None else 0,
            epipe_errors=int(row[T.EPIPE]) if row is not None else 0,
            zombies=zombies, masks=masks, failure=_failure(row, channel_names),
        )

    @staticmethod
    def _state(kernel: str, op: int, row: np.ndarray, channel_names: list[str]
               ) -> tuple[str, str | None]:
        if kernel == "Z":
            return "zombie", None
        if kernel in "Tt":
            return "stopped", None
        if kernel == "R":
            return "running", None
        if op in T.BLOCKING_OPS:
            what = T.OP_NAMES[op]
            channel = int(row[T.OP_CHANNEL])
            if op == T.OP_WAIT_SIGNAL:
                return "blocked", f"{what} {signal_name(int(row[T.OP_ARG]))}"
            if 0 <= channel < len(channel_names):
                return "blocked", f"{what} {channel_names[channel]}"
            return "blocked", what
        return "sleeping", None

    def _channel_view(self, name: str, spec: object, arr: np.ndarray | None,
                      workers: list[WorkerView], kids: list[SpawnedProc]) -> ChannelView:
        rt = self.runtime
        kind = spec.kind  # type: ignore[attr-defined]
        counters = CHANNELS[kind].counters
        ends = self._ends.get(name)
        if ends is None:  # who writes and who reads never changes during a run
            ends = self._ends[name] = (
                tuple(p.name for p in rt.procs if p.roles.get(name, set()) & WRITING_ROLES),
                tuple(p.name for p in rt.procs if p.roles.get(name, set()) & READING_ROLES))
        writers, readers = ends
        data: dict[str, object] = {}
        channel = rt.channel_by_name.get(name)
        if arr is not None and channel is not None:
            layout = rt.table.layout  # type: ignore[union-attr]
            index = channel.index

            def column(counter: int) -> np.ndarray:
                return arr[:, layout.channel_cell(index, counter)]

            if counters == "bytes":
                data["bytes_written"] = int(column(T.BYTES_WRITTEN).sum())
                data["bytes_read"] = int(column(T.BYTES_READ).sum())
            if counters == "messages":
                data["messages_sent"] = int(column(T.MESSAGES_SENT).sum())
                data["messages_received"] = int(column(T.MESSAGES_RECEIVED).sum())
                data["bytes_sent"] = int(column(T.BYTES_WRITTEN).sum())
            # Counters before contents: a worker writes the cell, then counts the increment,
            # so every increment counted here is already in (or lost from) the array.
            per_row = column(T.INCREMENTS) if counters == "array" else None
            increments = int(per_row.sum()) if per_row is not None else 0
            if per_row is not None and name not in self._checked:
                self._checked.add(name)  # the elements `expect` will look at, read for real
                channel.checked = [e["index"] for e in rt.model.expect  # type: ignore[attr-defined]
                                   if e.get("channel") == name and "index" in e]
            data.update(channel.observe())
            if per_row is not None:
                data["increments"] = increments
                # while workers run, up to one burst of increments each may be written but
                # not yet counted: never reported as negative losses
                lost, note = channel.lost_updates(  # type: ignore[attr-defined]
                    increments, data["sum"], int(np.count_nonzero(per_row)),
                    name in rt.scenario.plan.arrays_set)
                data["lost_updates"] = lost
                if note is not None:
                    data["lost_updates_note"] = note
            elif counters == "lock":
                data.update(self._semaphore(name, column(T.ACQUIRED) - column(T.RELEASED),
                                            workers, kids))
        return ChannelView(name, kind, data, writers, readers)

    def _semaphore(self, name: str, held: np.ndarray, workers: list[WorkerView],
                   kids: list[SpawnedProc]) -> dict:
        by_row = {p.row: p.name for p in self.runtime.procs}
        by_row.update({k.row: k.name for k in kids})
        state = {w.name: w.state for w in workers}
        holders = []
        for row in np.flatnonzero(held > 0):
            worker = by_row.get(int(row), f"row {row}")
            dead = state.get(worker) in ("exited", "zombie")
            holders.append(f"{worker} (dead)" if dead else worker)
        waiters = [w.name for w in workers
                   if w.state == "blocked" and w.blocked_on == f"acquire {name}"]
        return {"holder": holders[0] if holders else None, "holders": holders,
                "waiters": waiters}

    @staticmethod
    def _deadlock(workers: list[WorkerView], channels: tuple[ChannelView, ...]
                  ) -> tuple[str, ...] | None:
        sems = {c.name: c.data for c in channels if c.kind == "semaphore"}
        if not sems:
            return None
        waiting = {}
        for w in workers:
            if w.state == "blocked" and w.blocked_on and w.blocked_on.startswith("acquire "):
                sem = w.blocked_on.split(" ", 1)[1]
                if sems.get(sem, {}).get("value") == 0:
                    waiting[w.name] = sem
        holders = {name: [h.removesuffix(" (dead)") for h in data.get("holders", [])]
                   for name, data in sems.items()}
        return find_cycle(waiting, holders)


def _signal_counts(cells: np.ndarray) -> dict[str, int]:
    nonzero = np.flatnonzero(cells)
    return {signal_name(int(n)): int(cells[n]) for n in nonzero}


def _names_of(*counts: dict[int, int]) -> dict[str, int]:
    """Per-signal counts added up, by signal name, in signal-number order."""
    total: dict[int, int] = {}
    for part in counts:
        for sig, n in part.items():
            total[sig] = total.get(sig, 0) + n
    return {signal_name(sig): n for sig, n in sorted(total.items())}
