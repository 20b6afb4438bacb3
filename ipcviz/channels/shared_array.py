"""A numpy array over POSIX shared memory (/dev/shm/ipcviz.<run>.<name>).

The segment holds the array, then one int16 per element saying which worker row wrote
it last (-1: nobody yet). Each worker opens the segment by name and maps it itself,
as an unrelated process would; an increment is a plain, non-atomic read-modify-write.
"""

from __future__ import annotations

import mmap

import numpy as np
import posix_ipc

from ipcviz.channels.base import Channel
from ipcviz.channels.mmap_file import allocate

MAX_VALUES_IN_SNAPSHOT = 4096
HEAT_ROWS, HEAT_COLUMNS = 8, 64


def block_means(values: np.ndarray) -> np.ndarray:
    """A 2-D view of at most HEAT_ROWS x HEAT_COLUMNS block means, for a heat map."""
    grid = values.reshape(1, -1) if values.ndim == 1 else values
    rows = -(-grid.shape[0] // HEAT_ROWS)
    cols = -(-grid.shape[1] // HEAT_COLUMNS)
    out_r, out_c = -(-grid.shape[0] // rows), -(-grid.shape[1] // cols)
    out = np.zeros((out_r, out_c))
    for i in range(out_r):
        for j in range(out_c):
            out[i, j] = grid[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols].mean()
    return out


def shape_of(spec) -> tuple[int, ...]:
    return tuple(spec.shape) if isinstance(spec.shape, list) else (spec.shape,)


class ArrayEndpoint:
    """A worker's view: `values` (the shared numpy array) and `last_writer`."""

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...]):
        shm = posix_ipc.SharedMemory(name)
        self._map = mmap.mmap(shm.fd, shm.size)
        shm.close_fd()
        count = int(np.prod(shape))
        self.values = np.ndarray(shape, dtype=dtype, buffer=self._map)
        self.flat = self.values.reshape(-1)
        self.last_writer = np.ndarray((count,), dtype=np.int16, buffer=self._map,
                                      offset=self.values.nbytes)

    def for_roles(self, roles: set[str]) -> ArrayEndpoint:
        return self


class SharedArrayChannel(Channel):
    kind = "shared_array"
    roles = frozenset({"array"})

    def create(self) -> None:
        self.shape = shape_of(self.spec)
        self.ipc_name = self.registry.ipc_name(self.name)
        self.registry.add("shm", self.ipc_name)
        count = int(np.prod(self.shape))
        nbytes = count * np.dtype(self.spec.dtype).itemsize
        shm = posix_ipc.SharedMemory(self.ipc_name, posix_ipc.O_CREX, mode=0o600,
                                     size=nbytes + 2 * count)
        try:  # the pages must really exist: a full /dev/shm is an error here, not a SIGBUS
            allocate(shm.fd, nbytes + 2 * count, f"/dev/shm{self.ipc_name}")
        finally:
            shm.close_fd()
        self.view = ArrayEndpoint(self.ipc_name, self.spec.dtype, self.shape)
        init = self.spec.init
        if init == "arange":
            self.view.flat[:] = np.arange(count)
        elif isinstance(init, list):
            self.view.flat[:] = init
        elif init != "zeros":
            self.view.flat[:] = init
        self.view.last_writer[:] = -1
        self.initial_sum = self._sum()
        self.uses_set = False  # the runtime says so when a worker has `set` on it

    def _sum(self) -> float | int:
        total = self.view.values.sum()
        return int(total) if np.issubdtype(self.view.values.dtype, np.integer) else float(total)

    def attach(self, roles: set[str]) -> ArrayEndpoint:
        return ArrayEndpoint(self.ipc_name, self.spec.dtype, self.shape)

    def observe(self) -> dict:
        values = self.view.values.copy()  # one moment: the sum and the values agree
        total = values.sum()
        total = int(total) if np.issubdtype(values.dtype, np.integer) else float(total)
        data: dict = {"dtype": self.spec.dtype, "shape": list(self.shape),
                      "sum": total, "initial_sum": self.initial_sum}
        if values.size <= MAX_VALUES_IN_SNAPSHOT:
            data["values"] = values.tolist()
            data["last_writer"] = self.view.last_writer.reshape(self.shape).tolist()
        else:
            data["values"] = {"min": values.min().item(), "max": values.max().item(),
                              "sum": data["sum"]}
            data["heat"] = block_means(values).tolist()
        return data

    def close(self) -> None:
        pass  # the mapping goes with the process; the registry unlinks the name
