"""The children the workers spawn: named NAME#N in the order they were spawned, found
in the spawn rows of the telemetry table (their spawner writes pid, start time and
definition there; the runtime, as subreaper, may reap an orphaned one).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ipcviz.host.process import ProcessIdentity
from ipcviz.runtime.procs import SpawnedProc, decode_status
from ipcviz.runtime.run_objects import RunObjects
from ipcviz.telemetry import table as T


class SpawnedChildren:
    """The spawned children of one run: their names, owners, exits and what was sent."""

    def __init__(self, objects: RunObjects, definitions: list[str]):
        """`definitions`: the scenario's worker definitions, in order (a spawn row names
        its definition by its place in this list, counted from 1)."""
        self._objects = objects
        self._definitions = definitions
        #: the first spawn row: the rows before it are the workers'
        self.base = 0
        #: spawn row -> the worker whose rows they are
        self.owner: dict[int, str] = {}
        #: spawn row -> the exit of a child the runtime reaped (adopted as subreaper)
        self.exit: dict[int, int | str] = {}
        #: spawn row -> what the runtime has sent it, by signal
        self.sent_to: dict[int, Counter[int]] = {}
        #: every child seen at shutdown, for the leak check
        self.idents: list[ProcessIdentity] = []
        self._names: dict[int, str] = {}
        self._count: Counter[str] = Counter()

    def _rows(self) -> list[int]:
        """The spawn rows in use (a copy of the column: spawners write it meanwhile)."""
        table = self._objects.table
        if table is None or self.base >= table.array.shape[0]:
            return []
        pids = table.array[self.base:, T.PID].copy()
        return [int(r) + self.base for r in np.flatnonzero(pids)]

    def _group(self, row: int) -> str:
        definition = int(self._objects.need_table().array[row, T.SPAWN_DEF])
        return self._definitions[definition - 1] if definition else "?"

    def name_new(self) -> None:
        """Name every child spawned since the last call NAME#N, numbered per definition
        in the order they were spawned (once per loop turn, and before a frame)."""
        rows = self._rows()  # (none when no worker spawns: this runs every loop turn)
        if not rows:
            return
        arr = self._objects.need_table().array
        fresh = sorted((int(arr[row, T.START]), row) for row in rows if row not in self._names)
        for _, row in fresh:
            group = self._group(row)
            self._names[row] = f"{group}#{self._count[group]}"
            self._count[group] += 1

    def spawned(self) -> list[SpawnedProc]:
        """Every child a worker has spawned and `name_new` has named, from the table (one
        spawned since then shows up after the next call)."""
        rows = [row for row in self._rows() if row in self._names]
        if not rows:
            return []
        arr = self._objects.need_table().array
        out = []
        for row in rows:
            status = int(arr[row, T.EXIT_STATUS])
            exit = decode_status(status - 1) if status else self.exit.get(row)
            ident = ProcessIdentity(int(arr[row, T.PID]), int(arr[row, T.START]))
            out.append(SpawnedProc(row, self._names[row], self._group(row),
                                   self.owner.get(row, "?"), ident, exit))
        return out

    def reaped(self, pid: int, status: int) -> None:
        """An orphaned child, adopted by the runtime as subreaper, has been reaped."""
        table = self._objects.table
        if table is None:
            return
        arr = table.array
        for row in range(self.base, arr.shape[0]):
            if arr[row, T.PID] == pid and row not in self.exit:
                self.exit[row] = decode_status(status)
                return
