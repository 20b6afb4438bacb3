"""A numpy array over POSIX shared memory (/dev/shm/ipcviz.<run>.<name>).

The segment holds the array, then one int16 per element saying which worker row wrote
it last (-1: nobody yet). Each worker opens the segment by name and maps it itself,
as an unrelated process would; an increment is a plain, non-atomic read-modify-write.
"""

from __future__ import annotations

import math
import mmap
from typing import Protocol, runtime_checkable

import numpy as np
import posix_ipc

from ipcviz.channels.base import Channel, Room, Traffic, pages
from ipcviz.channels.endpoints import Endpoint
from ipcviz.channels.mmap_file import allocate

MAX_VALUES_IN_SNAPSHOT = 4096
HEAT_ROWS, HEAT_COLUMNS = 8, 64
#: why `lost_updates` is null (`lost_updates_note`): the sum cannot tell lost increments
#: from something else
NOTE_SET = "set_used"  # a worker stores values with `set`
NOTE_WRAPAROUND = "wraparound"  # an integer that may have wrapped more than once, raced
NOTE_ROUNDING = "rounding"  # floats past the exact integers (2^24 for float32)


def exact_sum(values: np.ndarray) -> int | float:
    """The sum of the elements as Python number, without the dtype's own overflow or
    rounding: integers exactly, floats accumulated in float64 (exact for integer values
    while the total stays below 2^53)."""
    if np.issubdtype(values.dtype, np.integer):
        if values.dtype.itemsize < 8:
            return int(values.sum(dtype=np.int64))  # room for 2^31 elements of any value
        if values.size == 0:
            return 0
        largest = max(abs(int(values.min())), abs(int(values.max())))
        if largest * values.size < 2 ** 63:
            return int(values.sum(dtype=np.int64))  # cannot wrap: numpy's fast sum is exact
        return int(values.sum(dtype=object))  # near 2^63: numpy's own sum would wrap
    return float(values.sum(dtype=np.float64))


def element(values: np.ndarray, index: object) -> object:
    """`values[index]` (an int or one int per dimension) as plain data, or None."""
    try:
        key = tuple(index) if isinstance(index, list) else (index,)
        if any(isinstance(i, bool) or not isinstance(i, int) for i in key):
            return None
        return values[key].tolist()
    except (IndexError, TypeError):
        return None


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


def shape_of(shape: list[int] | int) -> tuple[int, ...]:
    """An array's `shape:` as written (`[rows, cols]`, `[n]` or `n`) as a tuple."""
    return tuple(shape) if isinstance(shape, list) else (shape,)


class ArraySpec(Protocol):
    """What a shared array channel reads of its options."""

    @property
    def dtype(self) -> str:
        """The numpy type of its elements ("int64", ...)."""

    @property
    def shape(self) -> list[int] | int:
        """Its shape: `[rows, cols]`, `[n]` or `n`."""

    @property
    def init(self) -> str | float | list[float]:
        """Its first values: "zeros", "arange", one number for all, or one per element."""


@runtime_checkable
class ArrayEnd(Protocol):
    """The shared array as numpy sees it: loads and stores are plain memory accesses,
    nothing waits and nothing is atomic."""

    #: the array, in its shape
    values: np.ndarray
    #: the same elements, flattened (an `index:` is a position in it)
    flat: np.ndarray
    #: per element, the row of the worker that wrote it last (-1: nobody yet)
    last_writer: np.ndarray


class ArrayEndpoint(ArrayEnd, Endpoint):
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


class SharedArrayChannel(Channel[ArraySpec]):
    kind = "shared_array"

    @classmethod
    def room(cls, spec: ArraySpec, traffic: Traffic) -> Room:
        """Its elements, in /dev/shm."""
        shape = spec.shape if isinstance(spec.shape, list) else [spec.shape]
        return Room(shm=pages(math.prod(shape) * np.dtype(spec.dtype).itemsize))

    def create(self) -> None:
        self.shape = shape_of(self.spec.shape)
        count = int(np.prod(self.shape))
        nbytes = count * np.dtype(self.spec.dtype).itemsize
        self.ipc_name, shm = self.registry.create_ipc("shm", self.name, lambda name: (
            posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=nbytes + 2 * count)))
        try:  # the pages must really exist: a full /dev/shm is an error here, not a SIGBUS
            allocate(shm.fd, nbytes + 2 * count, f"/dev/shm{self.ipc_name}")
        finally:
            shm.close_fd()
        self.view = ArrayEndpoint(self.ipc_name, self.spec.dtype, self.shape)
        init = self.spec.init
        if init == "arange":
            self.view.flat[:] = np.arange(count)
        elif init != "zeros":  # a number for every element, or a flat list of them
            self.view.flat[:] = init
        self.view.last_writer[:] = -1
        self.initial_sum = exact_sum(self.view.values)
        start = self.view.flat.astype(np.float64)
        self._initial_integral = bool(np.all(np.isfinite(start)) and np.all(start == np.round(start)))
        self._initial_max_abs = float(np.abs(start).max()) if start.size else 0.0
        #: indices `expect` checks (set by the sampler): arrays too big to travel whole
        #: still carry these elements, read from the real array
        self.checked: list[object] = []

    def lost_updates(self, increments: int, total: int | float, incrementing_rows: int,
                     set_used: bool = False) -> tuple[int | None, str | None]:
        """(increments attempted minus what the array gained, None) where that difference
        can only be lost updates; else (None, why not: NOTE_*).

        Integers wrap (uint8 255 + 1 is 0), so the difference is taken modulo 2^bits: exact
        while fewer than 2^(bits-1) increments were made, or when only one worker row
        increments (no race, so a multiple of 2^bits cannot hide in it). Floats: exact only
        while every value stays an exactly representable integer (initial values integral,
        |initial| + increments <= 2^mantissa bits, and the float64 sums exact). `set_used`:
        some worker stores into the array with `set` (the plan's `arrays_set`)."""
        if set_used:
            return None, NOTE_SET
        gained = total - self.initial_sum
        dtype = self.view.values.dtype
        if np.issubdtype(dtype, np.integer):
            modulus = 1 << (8 * dtype.itemsize)
            diff = (increments - int(gained)) % modulus
            if diff >= modulus // 2:  # a few written but not yet counted (live frames)
                diff -= modulus
            if increments < modulus // 2 or incrementing_rows <= 1:
                return max(0, diff), None
            return None, NOTE_WRAPAROUND
        bound = self._initial_max_abs + increments
        exact = (self._initial_integral and bound <= 2.0 ** (np.finfo(dtype).nmant + 1)
                 and bound * self.view.values.size <= 2.0 ** 53)
        if not exact:
            return None, NOTE_ROUNDING
        return max(0, int(increments - gained)), None

    def attach(self, roles: set[str]) -> ArrayEndpoint:
        return ArrayEndpoint(self.ipc_name, self.spec.dtype, self.shape)

    def observe(self) -> dict:
        values = self.view.values.copy()  # one moment: the sum and the values agree
        data: dict = {"dtype": self.spec.dtype, "shape": list(self.shape),
                      "shm_path": f"/dev/shm{self.ipc_name}",
                      "sum": exact_sum(values), "initial_sum": self.initial_sum}
        if values.size <= MAX_VALUES_IN_SNAPSHOT:
            data["values"] = values.tolist()
            data["last_writer"] = self.view.last_writer.reshape(self.shape).tolist()
        else:
            data["values"] = {"min": values.min().item(), "max": values.max().item(),
                              "sum": data["sum"]}
            data["heat"] = block_means(values).tolist()
            if self.checked:
                data["elements"] = [[index, element(values, index)] for index in self.checked]
        return data

    def close(self) -> None:
        pass  # the mapping goes with the process; the registry unlinks the name
