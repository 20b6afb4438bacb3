"""The sampler's collaborator that makes ChannelViews: each channel's counters summed over
the workers' rows beside the kernel's view of the object (read in the frame's moment),
who writes and who reads it, and what its kind adds."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ipcviz.runtime.lock_views import semaphore_data
from ipcviz.runtime.memory_views import page_views, window_views
from ipcviz.runtime.pipe_holders import (RUNTIME, DescriptorRecord, Holder, PipeEnd, holders_of,
                                         pipe_data)
from ipcviz.runtime.proc_reader import ProcReader
from ipcviz.runtime.rpc_views import rpc_data
from ipcviz.channels.shm_object import holds as shm_holds
from ipcviz.channels.state import Race
from ipcviz.scenario.kinds import CHANNELS, READING_ROLES, WRITING_ROLES, state_class
from ipcviz.scenario.plan import channel_roles
from ipcviz.scenario.schema import all_steps
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import ChannelView, End, WorkerView

if TYPE_CHECKING:
    from ipcviz.channels.base import Channel
    from ipcviz.host.process import ProcessIdentity
    from ipcviz.runtime.procs import Proc, SpawnedProc
    from ipcviz.runtime.supervisor import Runtime


@dataclass(frozen=True)
class Reading:
    """One channel being read: its name and kind, its scenario entry, the object that
    runs it, its counter `column(cell)` over every row, and the view's data being made."""

    name: str
    kind: str
    spec: Any
    channel: Any
    column: Callable[[int], np.ndarray]
    data: dict[str, Any]


#: counter family (kinds.ChannelKind.counters) -> the ChannelViews method reading it
FAMILY_READERS = {"bytes": "_read_bytes", "messages": "_read_messages", "rpc": "_read_rpc",
                  "array": "_read_array", "lock": "_read_lock"}
if {k.counters for k in CHANNELS.values()} - set(FAMILY_READERS):
    raise RuntimeError("a channel kind's counter family has no reader in channel_views.py")

#: a run with at most this many processes has its pipes' holders read on every frame
#: (a few directory listings); a bigger one on the frames that read /proc anyway
PIPE_ENDS_EVERY_FRAME = 32


class ChannelViews:
    """The runtime's channels to ChannelViews, one frame at a time (`views`); `procs` says
    whether this frame reads /proc (who holds a FIFO open is read then)."""

    def __init__(self, runtime: Runtime, procs: ProcReader) -> None:
        self.runtime = runtime
        self.procs = procs
        #: one reader per counter family: the family's counters summed over the workers'
        #: rows, beside the kernel's view (channel.observe())
        self._readers: dict[str, Callable[[Reading], None]] = {
            family: getattr(self, method) for family, method in FAMILY_READERS.items()}
        #: channel -> (writers, readers): who writes and who reads never changes in a run
        self._ends: dict[str, tuple[tuple[End, ...], tuple[End, ...]]] = {}
        #: the arrays whose elements `expect` looks at were told which (once each)
        self._checked: set[str] = set()
        #: FIFO -> who holds it open ("read"/"write" -> workers), read from /proc on ticks
        self._fifo_cache: dict[str, dict[str, list[str]]] = {}
        #: pipe -> who holds each end, from every process's descriptors, and the
        #: processes whose descriptors the kernel hid (see `_pipe_ends`)
        self._pipe_cache: dict[str, tuple[list[PipeEnd], list[str]]] = {}
        #: this frame's processes that may hold a pipe end and their names, made when the
        #: first pipe asks (None: not yet); the holders are read for every pipe then
        self._pipe_procs: tuple[list[Holder], set[str]] | None = None
        #: the workers that run steps, by name, and each process's Holder (per life)
        self._plain: dict[str, Proc] | None = None
        self._holders: dict[str, tuple[ProcessIdentity | None, Holder]] = {}
        self._interruptible: frozenset[str] | None = None
        # this frame's: each channel's kernel view read in its moment, the workers and
        # spawned children, and each row's worker name (made when a reader first asks)
        self._observed: dict[str, dict[str, Any]] = {}
        self._workers: list[WorkerView] = []
        self._kids: list[SpawnedProc] = []
        self._owners: dict[int, str] | None = None

    def views(self, arr: np.ndarray | None, workers: list[WorkerView],
              kids: list[SpawnedProc], observed: dict[str, dict[str, Any]]
              ) -> tuple[ChannelView, ...]:
        """Every channel of the scenario, from one reading: `arr` its copy of the table
        (None: no table yet), `observed` the channels' kernel views read in it."""
        self._observed, self._workers, self._kids = observed, workers, kids
        self._owners = None
        self._pipe_procs = None
        return tuple(self._view(name, spec, arr)
                     for name, spec in self.runtime.model.channels.items())

    def _view(self, name: str, spec: Any, arr: np.ndarray | None) -> ChannelView:
        rt = self.runtime
        kind = spec.kind
        ends = self._ends.get(name)
        if ends is None:
            ends = self._ends[name] = (self._end_names(name, WRITING_ROLES),
                                       self._end_names(name, READING_ROLES))
        writers, readers = ends
        data: dict[str, Any] = {}
        channel = rt.channel_by_name.get(name)
        if arr is not None and channel is not None and rt.table is not None:
            layout = rt.table.layout
            index = channel.index

            def column(counter: int) -> np.ndarray:
                return arr[:, layout.channel_cell(index, counter)]

            self._readers[CHANNELS[kind].counters](
                Reading(name, kind, spec, channel, column, data))
            data.update(channel.counted(column))  # the kind's own counters, if any
            channel.derived(data)
        return ChannelView(name, kind, state_class(kind).from_dict(data), writers, readers)

    def _owner_names(self) -> dict[int, str]:
        """Each row's worker name, made once per frame (every stream asks)."""
        if self._owners is None:
            by_row = {p.row: p.name for p in self.runtime.procs}
            by_row.update({k.row: k.name for k in self._kids})
            self._owners = by_row
        return self._owners

    def _read_bytes(self, r: Reading) -> None:
        data, column, kind = r.data, r.column, CHANNELS[r.kind]
        data["bytes_written"] = int(column(T.BYTES_WRITTEN).sum())
        data["bytes_read"] = int(column(T.BYTES_READ).sum())
        if kind.last_read:
            data["last_read"] = self._last_reads(column)
        for counter in kind.sums:  # e.g. a socket's message boundaries, a file's records
            data[counter] = int(column(T.COUNTER_CELLS[counter]).sum())
        if r.name in self._interruptible_reads():  # read(2) as C makes it (worker/eintr.py)
            data["interrupted_reads"] = int(column(T.INTERRUPTED_READS).sum())
            data["restarted_reads"] = int(column(T.RESTARTED_READS).sum())
        if r.kind == "mmap":  # the busiest writer's position (each starts at 0)
            written = int(column(T.BYTES_WRITTEN).max())
            r.channel.write_offset = written % r.spec.size
        data.update(self._observation(r))
        if r.kind == "fifo":
            data["open_by"] = self._fifo_open_by(r.name, data.get("path"))
        if r.kind == "shm":  # the run's processes that have it open or mapped now
            data["held_by"] = self._shm_held_by(str(data.get("path")))
        if r.kind == "page":
            data.update(page_views(r.column, self._owner_names(), data["last_read"]))
        if r.kind == "window":
            data.update(window_views(r.column))
        elif r.kind == "pipe":
            data.update(self._pipe_ends(r.name))
        if (r.kind in ("pipe", "fifo") and self._ends.get(r.name) == ((), ())
                and any(p.roles.get(r.name) for p in self.runtime.procs)):
            # only programs (`exec:`) use it: no step counted its bytes, and zeros would
            # be false beside the bytes in its buffer (strace counts: program facts); a
            # pipe nobody uses is counted as any other (0 written, 0 read)
            del data["bytes_written"], data["bytes_read"]
            data["uncounted"] = True
            data["traced_bytes"] = {  # what strace saw each traced program move here
                w.name: list(w.program["channel_bytes"][r.name]) for w in self._workers
                if w.program and r.name in (w.program.get("channel_bytes") or {})}

    def _interruptible_reads(self) -> frozenset[str]:
        """The pipes and FIFOs some worker reads with `interruptible: true`."""
        found = self._interruptible
        if found is None:
            found = self._interruptible = frozenset(
                step.args.from_ for worker in self.runtime.model.workers.values()
                for step in all_steps(worker.steps)
                if step.kind == "read" and step.args.interruptible)
        return found

    def _read_messages(self, r: Reading) -> None:
        data, column = r.data, r.column
        data["messages_sent"] = int(column(T.MESSAGES_SENT).sum())
        data["messages_received"] = int(column(T.MESSAGES_RECEIVED).sum())
        data["bytes_sent"] = int(column(T.BYTES_WRITTEN).sum())
        data["bytes_received"] = int(column(T.BYTES_READ).sum())
        data["refused"] = int(column(T.REFUSED).sum())
        data["empty_receives"] = int(column(T.EMPTY_RECEIVES).sum())
        data.update(self._observation(r))

    def _read_rpc(self, r: Reading) -> None:
        data, column, rt = r.data, r.column, self.runtime
        plan_roles = rt.scenario.plan.roles
        rows = {p.row: (p.name, "server" in p.roles.get(r.name, ())) for p in rt.procs}
        rows.update({k.row: (k.name, "server" in plan_roles.get(k.group, {}).get(r.name, ()))
                     for k in self._kids})
        data.update(rpc_data(column, rows))
        data["bytes_written"] = int(column(T.BYTES_WRITTEN).sum())
        data["bytes_read"] = int(column(T.BYTES_READ).sum())
        for counter in CHANNELS[r.kind].sums:  # peers from outside the run, refused
            data[counter] = int(column(T.COUNTER_CELLS[counter]).sum())
        data.update(self._observation(r))

    def _read_array(self, r: Reading) -> None:
        rt, data, channel = self.runtime, r.data, r.channel
        # counters and contents of one moment (runtime/moment.py): every increment counted
        # is in the array or lost from it, and nothing is in it uncounted
        per_row = r.column(T.INCREMENTS)
        increments = int(per_row.sum())
        if r.name not in self._checked:
            self._checked.add(r.name)  # the elements `expect` will look at, read for real
            channel.checked = [e["index"] for e in rt.model.expect
                               if e.get("channel") == r.name and "index" in e]
        data.update(self._observation(r))
        data["increments"] = increments
        # while workers run, up to one burst of increments each may be written but not
        # yet counted: never reported as negative losses
        lost, note = channel.lost_updates(
            increments, data["sum"], int(np.count_nonzero(per_row)),
            r.name in rt.scenario.plan.arrays_set)
        data["lost_updates"] = lost
        if note is not None:
            data["lost_updates_note"] = note

    def _read_lock(self, r: Reading) -> None:
        data = r.data
        held = r.column(T.ACQUIRED) - r.column(T.RELEASED)
        data.update(self._observation(r))
        data["held"] = int(held.sum())
        before = {p.row: p.held_before_life.get(r.name, 0) for p in self.runtime.procs}
        data.update(semaphore_data(r.name, held, self._workers, self._owner_names(), before))
        value, initial = data.get("value"), data.get("initial")
        if (not data.get("handoff") and value is not None and initial is not None
                and value != initial - int(held.sum())):
            # counters a burst behind the kernel's value (taken and given back thousands
            # of times a second): the value is the truth; who holds it cannot be read at
            # this instant
            data["holders"] = [] if value == initial else data["holders"]
            data["busy"] = True

    def _last_reads(self, column: Callable[[int], np.ndarray]) -> dict[str, list[Any]]:
        """Per worker that has read the stream: [its last read's first bytes as text
        (undecodable bytes escaped), that read's length] (table.note_read)."""
        lengths = column(T.LAST_READ_LEN).copy()
        rows = np.flatnonzero(lengths)  # (of a copy: readers write the cells meanwhile)
        if not len(rows):
            return {}
        first, second = column(T.LAST_READ), column(T.LAST_READ + 1)
        by_row = self._owner_names()
        out = {}
        for row in rows:
            name = by_row.get(int(row))
            if name is not None:
                raw = T.last_read(int(first[row]), int(second[row]), int(lengths[row]))
                out[name] = [raw.decode("utf-8", "backslashreplace"), int(lengths[row])]
        return out

    def _shm_held_by(self, path: str) -> list[str]:
        """The live workers, and the runtime, that have shm object `path` mapped or open
        (their /proc maps and descriptors), read on every frame that shows it."""
        out = [w.name for w in self._workers
               if w.pid and w.state not in ("exited", "zombie") and shm_holds(w.pid, path)]
        if shm_holds(os.getpid(), path):
            out.append("ipcviz (runtime)")
        return out

    def _fifo_open_by(self, name: str, path: object) -> dict[str, list[str]]:
        """Which workers hold the FIFO open for "read" and for "write", from their
        descriptors in /proc (readlink, and the access mode in fdinfo). Read on the
        frames that read /proc anyway, and only for the workers that use the FIFO."""
        cache = self._fifo_cache
        if not self.procs.fresh and name in cache:
            return cache[name]
        writers, readers = self._ends.get(name, ((), ()))
        users = {e.worker for e in writers + readers if e.spawner is None}
        out: dict[str, list[str]] = {"write": [], "read": []}
        for w in self._workers:
            if w.name not in users or not w.pid or w.state in ("exited", "zombie"):
                continue
            for role in fifo_modes(w.pid, str(path)):
                out[role].append(w.name)
        cache[name] = out
        return out

    def _pipe_ends(self, name: str) -> dict[str, object]:
        """Who holds each end of pipe `name`, from the descriptors of every process of
        the run (pipe_holders.py): read for every pipe in one pass, on every frame of a
        small run and on the frames that read /proc anyway in a big one; a holder that
        has ended since is never shown (its descriptors closed when it did)."""
        cache = self._pipe_cache
        if self._pipe_procs is None:
            processes = [Holder(RUNTIME, os.getpid())]  # (the views include the kids')
            processes += [self._holder(w.name, w.pid) for w in self._workers
                          if w.pid and w.state not in ("exited", "zombie")]
            self._pipe_procs = (processes, {holder.name for holder in processes})
            if self.procs.fresh or len(processes) <= PIPE_ENDS_EVERY_FRAME or name not in cache:
                inodes = {getattr(c, "inode"): c.name for c in self.runtime.channels
                          if c.kind == "pipe"}
                found, hidden = holders_of(inodes, processes)
                cache.clear()
                for inode, ends in found.items():
                    cache[inodes[inode]] = (ends, hidden)
        alive = self._pipe_procs[1]
        ends, hidden = cache.get(name, ([], []))
        return pipe_data([e for e in ends if e.holder in alive],
                         [h for h in hidden if h in alive])

    def _holder(self, name: str, pid: int) -> Holder:
        """A process that may hold a pipe end: a plain worker (its descriptors change only
        through ipcviz's code) with the record of its ends, one per life (pipe_holders.py)."""
        if self._plain is None:
            self._plain = {p.name: p for p in self.runtime.procs if not p.runs_program}
        proc, table = self._plain.get(name), self.runtime.table
        life = proc.ident if proc is not None else None
        known = self._holders.get(name)
        if known is not None and known[0] is life and known[1].pid == pid:
            return known[1]
        holder = Holder(name, pid)
        if proc is not None and life is not None and life.pid == pid and table is not None:
            cells, cell = table.cells, table.row_base(proc.row) + T.FD_GENERATION
            holder = Holder(name, pid, DescriptorRecord(lambda: int(cells[cell])))
        self._holders[name] = (life, holder)
        return holder

    def _end_names(self, channel: str, wanted: frozenset[str]) -> tuple[End, ...]:
        """Who uses `channel` in these roles: a worker whose own steps do, or, for a
        worker that only spawns the children that do, End(children's definition,
        spawner): the spawner holds the descriptors for them but never reads or writes."""
        rt = self.runtime
        workers = rt.model.workers
        out: list[End] = []
        for p in rt.procs:
            if not p.roles.get(channel, set()) & wanted:
                continue
            group = p.instance.group
            serving = "server" in p.roles.get(channel, set())  # any use of it serves

            def uses(definition: str) -> bool:
                roles = channel_roles(workers[definition].steps).get(channel, set())
                return bool(roles) if serving else bool(roles & wanted)

            if uses(group):
                out.append(End(p.name))
                continue
            for kid in sorted(rt.scenario.plan.spawns.get(group, ())):
                if uses(kid):
                    out.append(End(kid, p.name))
        return tuple(dict.fromkeys(out))

    def _observation(self, r: Reading) -> dict[str, Any]:
        """The channel's kernel view read in this frame's moment (runtime/moment.py), or
        read now for a channel the moment did not see."""
        seen = self._observed.get(r.name)
        channel: Channel = r.channel
        return seen if seen is not None else channel.observe()


def fifo_modes(pid: int, path: str) -> set[str]:
    """"read" and/or "write": how process `pid` has `path` open now (empty if not, or gone)."""
    modes: set[str] = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return modes
    for fd in fds:
        try:
            if os.readlink(f"{fd_dir}/{fd}") != path:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                flags = next((int(line.split()[1], 8) for line in info
                              if line.startswith("flags:")), 0)
        except (OSError, StopIteration, ValueError):
            continue
        access = flags & os.O_ACCMODE
        if access in (os.O_RDONLY, os.O_RDWR):
            modes.add("read")
        if access in (os.O_WRONLY, os.O_RDWR):
            modes.add("write")
    return modes


def rank_compared(channels: tuple[ChannelView, ...], names: list[str], elapsed: float
                  ) -> tuple[ChannelView, ...]:
    """The speed race (`compare:`): each compared channel's bytes that arrived (`moved`: read
    from a stream, mapping or file, received from a queue), their average rate over the
    run so far and their place (1 = the most bytes moved; ties share a place), in its
    state's `race`."""
    if not names:
        return channels
    moved = {c.name: c.state.bytes_arrived() for c in channels if c.name in names}
    order = sorted(moved.values(), reverse=True)

    def raced(c: ChannelView) -> ChannelView:
        bytes_moved = moved[c.name]
        rate = round(bytes_moved / elapsed / 1e6, 2) if elapsed > 0 else 0.0
        race = Race(bytes_moved, rate, order.index(bytes_moved) + 1)
        return replace(c, state=replace(c.state, race=race))

    return tuple(raced(c) if c.name in moved else c for c in channels)
