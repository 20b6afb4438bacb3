"""The sampler's part that makes one WorkerView: counters of the worker's row beside the
kernel's view of its process (state, cpu, signal masks)."""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from ipcviz.host.process import zombie_children
from ipcviz.runtime.procmasks import without_hidden
from ipcviz.scenario.kinds import CHANNELS
from ipcviz.signals import NSIG, signal_name
from ipcviz.telemetry import table as T
from ipcviz.telemetry.events import row_failure
from ipcviz.telemetry.snapshot import Waiting, WorkerView, quick

if TYPE_CHECKING:
    from ipcviz.runtime.procs import Proc, SpawnedProc

#: Counters per channel kind: (counter cell, summary key, role that owns it)
_STREAM_COUNTERS = ((T.BYTES_WRITTEN, "bytes_written", "write"),
                    (T.BYTES_READ, "bytes_read", "read"))


#: a process's signal masks (/proc/PID/status, 40-75 us each) are read again at least
#: every this many ticks of the clock; sooner, at once, when its row, what was sent to it
#: or the kernel's per-thread masks of the first 31 signals in /proc/PID/stat (read every
#: tick anyway) moved. What waits for this: a signal pending for the whole process that
#: came from outside the run (a shell's kill, the kernel's SIGCHLD), which /proc/PID/stat
#: does not show
MASKS_EVERY = 5


def step_words(kind: str, op: int) -> str:
    """The step column: the step's kind; inside a `repeat`, what it is doing now."""
    if kind == "repeat":
        inner = T.OP_NAMES.get(op, "")
        vague = ("", "start", "run", "done", "paused")
        return "repeat" if inner in vague else f"repeat: {inner}"
    return kind


_USES_LOCK: dict[int, tuple[object, bool]] = {}


def uses_lock(definition) -> bool:
    """Whether some step (nested ones too) takes a `lock:` (the `l` key's switch); worked
    out once per definition."""
    known = _USES_LOCK.get(id(definition))
    if known is None or known[0] is not definition:
        from ipcviz.scenario.schema import all_steps

        found = any(getattr(step.args, "lock", None) for step in all_steps(definition.steps))
        known = _USES_LOCK[id(definition)] = (definition, found)
    return known[1]


def plain_state(kernel: str) -> str | None:
    """The state a kernel letter says by itself (zombie, stopped, running), or None for a
    sleeping process, whose words depend on what it waits in."""
    if kernel == "Z":
        return "zombie"
    if kernel in "Tt":
        return "stopped"
    if kernel == "R":
        return "running"
    return None


def held_at(row: np.ndarray) -> bool:
    """The row says its worker stands at a step boundary, held there (the run paused,
    stepped or on a schedule, or its own `p`) with no grant of a step outstanding: it
    does nothing until it is let go (worker/boundary.py)."""
    return bool(row[T.HELD]) and int(row[T.OP]) == T.OP_PAUSED and (
        row[T.TAKEN] >= row[T.CTRL_GRANTS])


def program_state(pid: int, kernel: str, fresh: bool, cache: dict
                  ) -> tuple[str, Waiting | None]:
    """A program's state and, when it sleeps, what it waits in, in words the kernel's
    /proc/PID/syscall and wchan give ("pipe read", "mq_timedsend", "sleep"); read at
    the clock's ticks only (a wchan lookup costs about 150 µs)."""
    from ipcviz.observe.procs import wait_of

    plain = plain_state(kernel)
    if plain is not None:
        return plain, None
    if fresh or pid not in cache:
        wait = wait_of(pid, kernel, {})
        if wait is not None and wait.fd is not None:  # which kind of descriptor it is on
            try:
                link = os.readlink(f"/proc/{pid}/fd/{wait.fd}")
            except OSError:
                link = ""
            kind = link.split(":", 1)[0] if link.startswith(("pipe:", "socket:")) else (
                "fifo" if link.startswith("/") and _is_fifo(link) else "")
            if kind:
                wait = wait_of(pid, kernel, {wait.fd: kind})
        cache[pid] = Waiting(wait.words) if wait is not None else None
    return ("blocked" if cache[pid] is not None else "sleeping"), cache[pid]


def _is_fifo(path: str) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class WorkerViews:
    """Mixin of `Sampler`: worker rows to WorkerViews."""

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
        merged: dict[str, int] = {}
        waiting = None
        if stat is not None and stat.start_ticks == kid.ident.start:
            state, waiting = self._state(stat.state, int(row[T.OP]), row, channel_names)
            if state != "zombie":
                masks = self._read_masks(kid.ident.pid, (
                    int(row[T.EVENT_SEQ]), sum(self.runtime.kid_sent_to.get(kid.row, {}).values()),
                    stat.signal_bits))
                if row[T.HIDDEN_BLOCK]:
                    masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
                merged = self._merges.update(kid.ident.pid, self._fresh, stat.state, masks,
                                             self.runtime.kid_sent_to.get(kid.row, {}), row)
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
        return quick(
            WorkerView,
            name=kid.name, group=kid.group, pid=kid.ident.pid, state=state,
            waiting=waiting, exit=exit, exit_text=exit_text, parent=kid.parent,
            signals_received=self._signal_counts(kid.row, 0),
            signals_sent=self._signal_counts(kid.row, 1),
            signals_sent_to={signal_name(s): n for s, n in sorted(sent_to.items())},
            step_text=T.OP_NAMES.get(int(row[T.OP]), ""), masks=masks,
            bytes_written=per_channel["bytes_written"], bytes_read=per_channel["bytes_read"],
            increments={k: v for k, v in per_channel["increments"].items() if v},
            messages_sent=per_channel["messages_sent"],
            messages_received=per_channel["messages_received"],
            duplicates=int(row[T.DUPLICATES]), self_reads=int(row[T.SELF_READS]),
            epipe_errors=int(row[T.EPIPE]),
            failure=row_failure(row, channel_names), signals_merged=merged,
        )

    def _worker_view(self, proc: Proc, row: np.ndarray | None, channel_names: list[str],
                     now: float, by_workers: dict[int, int] | None = None) -> WorkerView:
        """The view of one worker; a worker in which nothing moved since the last tick (its
        /proc/PID/stat bytes, its row, what was sent to it) keeps last tick's view without
        a parse: most of 64 idle workers' cost was finding out that nothing changed."""
        pid = proc.ident.pid if proc.ident else None
        if not (self._fresh and proc.alive and pid and row is not None and not proc.spawn_rows
                and proc.instance.definition.exec is None and proc.attached_argv is None):
            return self._make_worker_view(proc, row, channel_names, now, by_workers)
        raw = self._stat_files.read_raw(pid)
        key = (raw, row.tobytes(), pid, proc.restarts, proc.exit,
               tuple(proc.sent_to.items()), tuple((by_workers or {}).items()),
               self._received_total(proc.row))
        last = self._unmoved.get(proc.name)
        prev = self._cpu_prev.get(pid)
        if (raw and last is not None and last[0] == key and last[1].cpu == 0.0
                and prev is not None and pid in self._mask_keys
                and self._ticks - self._mask_ticks.get(pid, 0) < MASKS_EVERY):
            self._cpu_prev[pid] = (prev[0], now)  # no tick of CPU since: still 0 %
            return last[1]
        view = self._make_worker_view(proc, row, channel_names, now, by_workers, raw)
        self._unmoved[proc.name] = (key, view)
        return view

    def _make_worker_view(self, proc: Proc, row: np.ndarray | None, channel_names: list[str],
                          now: float, by_workers: dict[int, int] | None = None,
                          raw: bytes | None = None) -> WorkerView:
        pid = proc.ident.pid if proc.ident else None
        state, waiting, cpu, masks, zombies = "starting", None, 0.0, {}, 0
        merged: dict[str, int] = {}
        program = proc.instance.definition.exec
        if proc.attached_argv is not None:  # a running process of the user's (attach:)
            program = proc.attached_argv or [f"process {pid}"]
        op = int(row[T.OP]) if row is not None else T.OP_STARTING
        if proc.alive and pid:
            stat, cpu = self._read_stat(pid, now, raw)
            if stat is None:
                state = "exited"
            elif program is not None:  # no interpreter: only the kernel tells
                state, waiting = program_state(pid, stat.state, self._fresh, self._waits)
                masks = self._read_masks(pid, (sum(proc.sent_to.values()), stat.signal_bits))
                zombies = zombie_children(pid)
            else:
                state, waiting = self._state(stat.state, op, row, channel_names)
                # what can change its masks shows in its row (an event: handlers, block,
                # unblock; a delivery) or in what was sent to it (pending)
                masks = self._read_masks(pid, (
                    int(row[T.EVENT_SEQ]), self._received_total(proc.row),
                    sum(proc.sent_to.values()), sum((by_workers or {}).values()),
                    stat.signal_bits))
                if row is not None and row[T.HIDDEN_BLOCK]:
                    masks = without_hidden(masks, int(row[T.HIDDEN_BLOCK]))
                if proc.sent_to or by_workers:  # (nothing sent: nothing merged)
                    life = Counter(proc.sent_to - proc.sent_before_life if proc.restarts
                                   else proc.sent_to)
                    life.update(Counter(by_workers or {}) - proc.workers_sent_before_life)
                    merged = self._merges.update(
                        pid, self._fresh, stat.state, masks, life, row,
                        proc.received_before_life if proc.restarts else None)
                if proc.spawn_rows:
                    zombies = zombie_children(pid)
        elif proc.started_once:
            state = "exited"
            if pid:  # merges proven while it lived stay true once it has ended
                merged = self._merges.proven(pid)
        key = None
        if program is None:  # everything the view is made of (a program's facts change
            # by themselves): an idle worker's view is the one made last time
            key = (row.tobytes() if row is not None else None, pid, proc.alive, proc.exit,
                   proc.restarts, state, waiting, round(cpu, 1), zombies,
                   tuple(proc.sent_to.items()), tuple((by_workers or {}).items()))
            known = self._views.get(proc.name)
            if (known is not None and known[0] == key and known[1].masks == masks
                    and known[1].signals_merged == merged):
                return known[1]
        received = sent = {}
        per_channel = self._per_channel(proc.name, proc.roles, row)
        if row is not None:
            received = self._signal_counts(proc.row, 0)
            sent = self._signal_counts(proc.row, 1)
        steps = proc.instance.definition.steps
        step = int(row[T.STEP]) if row is not None else 0
        facts = None if program is None else self._program_facts(proc.name, program, pid,
                                                                   proc.alive)
        if facts is not None and facts.get("trace") and proc.ident is not None:
            # strace counted every delivery: the program's own process, as a worker's
            received = dict(facts["trace"]["signals_by_process"].get(str(proc.ident.pid), {}))
        view = quick(
            WorkerView,
            name=proc.name, group=proc.instance.group, pid=pid, state=state,
            waiting=waiting, exit=proc.exit, exit_text=proc.exit_text,
            restarts=proc.restarts, cpu=round(cpu, 1), step=step,
            step_text=(step_words(steps[step].kind, op) if 0 <= step < len(steps) else
                       f"{'watch' if proc.attached_argv is not None else 'exec'} "
                       f"{os.path.basename(program[0])}" if program else ""),
            loops=int(row[T.LOOPS]) if row is not None else 0,
            paused=bool(row[T.CTRL_PAUSE] & T.PAUSE_WORKER) if row is not None else False,
            lock_off=bool(row[T.CTRL_LOCK_OFF]) if row is not None else False,
            signals_received=received, signals_sent=sent,
            # sent to it by the runtime (timeline, triggers, keys) and by other workers
            signals_sent_to=names_of(proc.sent_to, by_workers or {}),
            bytes_written=per_channel["bytes_written"], bytes_read=per_channel["bytes_read"],
            increments={k: v for k, v in per_channel["increments"].items() if v},
            messages_sent=per_channel["messages_sent"],
            messages_received=per_channel["messages_received"],
            duplicates=int(row[T.DUPLICATES]) if row is not None else 0,
            self_reads=int(row[T.SELF_READS]) if row is not None else 0,
            epipe_errors=int(row[T.EPIPE]) if row is not None else 0,
            zombies=zombies, masks=masks, failure=row_failure(row, channel_names),
            sent_this_life=(names_of(proc.sent_to - proc.sent_before_life,
                                     Counter(by_workers or {}) - proc.workers_sent_before_life)
                            if proc.restarts else None),
            received_this_life=(signal_counts(row[T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG]
                                              - proc.received_before_life)
                                if proc.restarts and row is not None
                                and proc.received_before_life is not None else None),
            uses_lock=uses_lock(proc.instance.definition),
            program=facts,
            signals_merged=merged if program is None else None,
        )
        if key is not None:
            self._views[proc.name] = (key, view)
        return view

    def _channel_inodes(self) -> dict[int, str]:
        """The inodes of the scenario's pipes and FIFOs, by channel name (read once)."""
        found = self._inodes  # type: ignore[has-type]
        if found is None:
            found = self._inodes = {}
            for channel in self.runtime.channels:
                for fd in getattr(channel, "fds", {}).values():
                    if fd is not None:
                        try:
                            found[os.fstat(fd).st_ino] = channel.name
                        except OSError:
                            pass
        return found

    def _program_facts(self, name: str, argv: list[str], pid: int | None, alive: bool
                       ) -> dict:
        """Its command line and output, and the kernel's view of its process tree (read
        at the clock's ticks: see ProgramWatch)."""
        output = self.runtime.programs
        watch = self.runtime.program_watch
        facts = {"argv": list(argv), "output_lines": output.lines.get(name, 0),
                 "last_output": list(output.last.get(name, ()))}
        if name in watch.not_ours:  # a running process ipcviz did not start (attach:)
            facts["attached"] = True
        if alive and pid:
            facts["observed"] = watch.read(name, pid, self._fresh, output.inodes,
                                           self._channel_inodes())
        facts["peak"] = watch.peaks.get(name, {})
        facts["diagnoses"] = watch.diagnosed(name)   # each shown during the run
        facts["graph"] = watch.graphs.get(name)      # who talks to whom, last seen
        traced = self.runtime.tracing.view(name)
        if traced is not None:  # exact counts from strace (`trace: true`, watch --trace)
            facts["trace"] = traced
        facts["leaks"] = watch.leaks(name) if not alive else []
        return facts

    @staticmethod
    def _state(kernel: str, op: int, row: np.ndarray, channel_names: list[str]
               ) -> tuple[str, Waiting | None]:
        """A worker's state: the kernel's letter, with the row's words for a sleep. A
        worker whose row says it stands at its step boundary, held there (`held_at`), is
        "held", whatever its looks at its cell make the kernel say. A worker whose row
        says it was inside a wait in this frame's moment (WAITS odd) is waiting even when
        the kernel, read a moment later, says running: a wait is a loop of timed waits
        (its handlers may end it), and on a loaded machine the instant between two of
        them can last the whole /proc reading."""
        plain = plain_state(kernel)
        if plain in (None, "running") and held_at(row):
            return "held", None
        if plain == "running" and int(row[T.WAITS]) & 1:
            plain = None
        if plain is not None:
            return plain, None
        if op in T.BLOCKING_OPS:
            what = T.OP_NAMES[op]
            channel = int(row[T.OP_CHANNEL])
            if op == T.OP_WAIT_SIGNAL:
                return "blocked", Waiting(what, signal_name(int(row[T.OP_ARG])))
            if 0 <= channel < len(channel_names):
                return "blocked", Waiting(what, channel_names[channel])
            return "blocked", Waiting(what)
        return "sleeping", None


def signal_counts(cells: np.ndarray) -> dict[str, int]:
    nonzero = np.flatnonzero(cells)
    return {signal_name(int(n)): int(cells[n]) for n in nonzero}


def names_of(*counts: dict[int, int]) -> dict[str, int]:
    """Per-signal counts added up, by signal name, in signal-number order."""
    total: dict[int, int] = {}
    for part in counts:
        for sig, n in part.items():
            total[sig] = total.get(sig, 0) + n
    return {signal_name(sig): n for sig, n in sorted(total.items())}
