"""The kernel's view of the run's processes for the sampler: /proc/PID/stat (state and cpu)
and signal masks, read at the clock's ticks and reused by the frames between them.

Reading /proc for every process is most of a frame's cost, so a frame that goes out
between two ticks (an early frame: a counter or an event changed) reuses the last
tick's readings; `begin` says which kind of frame is being made.
"""

from __future__ import annotations

from ipcviz.host.process import CLOCK_TICKS, ProcStat, StatFiles, parse_stat
from ipcviz.runtime.procmasks import read_masks

#: a process's signal masks (/proc/PID/status) are read again at least every this many
#: ticks of the clock; sooner, at once, when what could change them moved (see `masks`).
#: What waits for this: a signal pending for the whole process that came from outside
#: the run (a shell's kill, the kernel's SIGCHLD), which /proc/PID/stat does not show
MASKS_EVERY = 5
#: more processes than this seen in one run: the caches start again (a long run that
#: spawns and reaps thousands of children)
CACHE_LIMIT = 4096

Masks = dict[str, list[str]]


class ProcReader:
    """/proc readings of the run's processes, kept from one tick to the frames after it."""

    def __init__(self) -> None:
        #: this frame reads /proc (a tick of the clock), or reuses the last tick's readings
        self.fresh = True
        #: frames that read /proc so far
        self.ticks = 0
        #: pid -> (its /proc/PID/stat at the last reading, cpu % since the one before)
        self.stats: dict[int, tuple[ProcStat | None, float]] = {}
        self._files = StatFiles()
        self._cpu_prev: dict[int, tuple[int, float]] = {}
        self._masks: dict[int, Masks] = {}
        self._mask_keys: dict[int, tuple[object, ...]] = {}
        self._mask_ticks: dict[int, int] = {}

    def begin(self, kernel: bool, flush: bool = False) -> None:
        """A frame begins: `kernel`, it reads /proc; `flush` (the run's last frame), every
        process's masks are read now."""
        self.fresh = kernel
        self.ticks += kernel
        if flush:
            self._mask_keys.clear()

    def forget(self, alive: set[int]) -> None:
        """Give back the /proc files of processes not in `alive` (they are gone)."""
        self._files.forget(alive)

    def read_raw(self, pid: int) -> bytes | None:
        """The bytes of /proc/PID/stat now (None: the process is gone)."""
        return self._files.read_raw(pid)

    def stat(self, pid: int, now: float, raw: bytes | None = None
             ) -> tuple[ProcStat | None, float]:
        """(/proc/PID/stat, cpu % since the last reading), or the last tick's pair between
        ticks; `raw`: the file's bytes, when the caller has just read them."""
        if not self.fresh and pid in self.stats:
            return self.stats[pid]
        if raw is None:
            raw = self._files.read_raw(pid)
        stat = parse_stat(raw) if raw else None
        cpu = 0.0
        if stat is not None:
            prev = self._cpu_prev.get(pid)
            if prev is not None and now > prev[1]:
                cpu = 100.0 * (stat.cpu_ticks - prev[0]) / CLOCK_TICKS / (now - prev[1])
            self._cpu_prev[pid] = (stat.cpu_ticks, now)
        if len(self.stats) > CACHE_LIMIT:
            self.stats.clear()
            self._files.forget(set())
        self.stats[pid] = (stat, cpu)
        return stat, cpu

    def masks(self, pid: int, key: tuple[object, ...] = (), asleep: bool = False) -> Masks:
        """The process's signal masks: read at a tick when `key` (what could have changed
        them: its events, deliveries, signals sent to it) moved since the last reading,
        else every MASKS_EVERY ticks (a signal of the kernel's own, SIGCHLD, can turn
        pending with nothing in the table), unless the process is `asleep` and they
        showed nothing blocked or pending.

        `asleep`: its /proc/PID/stat, read at this tick, says its one thread sleeps
        interruptibly (S) with nothing blocked or pending among the first 31 signals,
        and what blocks, ignores or catches a signal is its own doing, which `key` shows
        (a worker that runs steps: its events and deliveries). A signal sent to a
        process that blocks none is either dropped at once (ignored) or wakes it to
        take it: one asleep with nothing blocked has none pending, and its masks stand
        as last read. A flush (the run's last frame) reads them all the same."""
        known = self._masks.get(pid)
        if known is not None and (not self.fresh or (
                self._mask_keys.get(pid) == key
                and self.ticks - self._mask_ticks.get(pid, 0) < MASKS_EVERY)):
            return known
        if (known is not None and asleep and self._mask_keys.get(pid) == key
                and not (known.get("blocked") or known.get("pending")
                         or known.get("shared_pending"))):
            self._mask_ticks[pid] = self.ticks  # (true at this tick)
            return known
        if len(self._masks) > CACHE_LIMIT:
            self._masks.clear()
            self._mask_keys.clear()
            self._mask_ticks.clear()
        masks = self._masks[pid] = read_masks(pid) or {}
        self._mask_keys[pid], self._mask_ticks[pid] = key, self.ticks
        return masks

    def still_idle(self, pid: int, now: float) -> bool:
        """Whether what was read of `pid` at its last reading stands now, for a process
        whose /proc/PID/stat bytes did not change and that used no CPU then: its masks
        are recent enough, and its cpu stays 0 % (its last reading moves to `now`)."""
        prev = self._cpu_prev.get(pid)
        if (prev is None or pid not in self._mask_keys
                or self.ticks - self._mask_ticks.get(pid, 0) >= MASKS_EVERY):
            return False
        self._cpu_prev[pid] = (prev[0], now)  # no tick of CPU since: still 0 %
        return True

    def close(self) -> None:
        """Give back the /proc files kept open (the garbage collector does it too)."""
        self._files.close()
