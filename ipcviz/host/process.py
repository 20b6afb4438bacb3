"""Processes as the kernel shows them: identity by pid *and* start time (so a recycled pid is
never signalled), /proc stat and owner reading, prctl, and non-blocking waitpid."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import NamedTuple

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcStat(NamedTuple):
    """The parts of /proc/PID/stat the sampler needs (a NamedTuple: the sampler makes one
    per worker per frame, and a frozen dataclass cost five times as much to make)."""

    state: str  # R, S, D, T, t, Z, X
    ppid: int
    cpu_ticks: int  # utime + stime
    start_ticks: int
    #: the kernel's pending, blocked, ignored and caught masks of the first 31 signals
    #: (the obsolete decimal fields: real-time signals are not in them); what changes
    #: here tells the sampler to read the full masks from /proc/PID/status
    signal_bits: tuple[bytes, ...] = ()
    #: its threads (the state is the first one's)
    threads: int = 1


def read_proc(pid: int, name: str, size: int = 4096) -> bytes | None:
    """The bytes of /proc/PID/NAME (its first `size`), or None when the process is gone.
    A bare open/read/close: half the cost of a buffered file object, which the sampler
    pays for every worker at every tick; no descriptor outlives the call."""
    try:
        fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def parse_stat(raw: bytes) -> ProcStat:
    # fields after the command: state(3) ppid(4) ... utime(14) stime(15) ...
    # num_threads(20) ... starttime(22) ... signal(31) blocked(32) sigignore(33)
    # sigcatch(34); the rest are left unsplit
    rest = raw[raw.rfind(b")") + 2:].split(None, 32)
    return ProcStat(chr(rest[0][0]), int(rest[1]), int(rest[11]) + int(rest[12]),
                    int(rest[19]), tuple(rest[28:32]), int(rest[17]))


class StatFiles:
    """/proc/PID/stat of the processes read at every tick, each kept open and read again
    with pread (a quarter of the cost of opening it each time). A kept descriptor stays
    with the process it was opened for: once that one is reaped, the read fails (ESRCH)
    and the file is opened again by path. At most `limit` are kept (the rest are opened
    for each reading); `close` gives them all back, and so does the garbage collector."""

    #: a kept file must not take a descriptor number the runtime's select() needs (it
    #: takes numbers below 1024, and the channels may use up to 768 of them)
    KEEP_BELOW = 896

    def __init__(self, limit: int = 128):
        import resource
        import weakref

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.limit = min(limit, max(0, (soft if soft > 0 else 1024) // 8))
        self._fds: dict[int, int] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._fds)

    def read(self, pid: int) -> ProcStat | None:
        raw = self.read_raw(pid)
        return parse_stat(raw) if raw else None

    def read_raw(self, pid: int) -> bytes | None:
        """The bytes of /proc/PID/stat now (None: the process is gone)."""
        fd = self._fds.get(pid)
        if fd is not None:
            try:
                raw = os.pread(fd, 1024, 0)
                if raw:
                    return raw
            except OSError:
                pass
            os.close(self._fds.pop(pid))
        if len(self._fds) >= self.limit:
            return read_proc(pid, "stat", 1024) or None
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            raw = os.pread(fd, 1024, 0)
        except OSError:
            raw = b""
        if not raw:
            os.close(fd)
            return None
        if fd < self.KEEP_BELOW:
            self._fds[pid] = fd
        else:  # a high number: given back at once, for the descriptors that need it
            os.close(fd)
        return raw

    def forget(self, keep: set[int]) -> None:
        """Close the files of every pid not in `keep`."""
        for pid in [p for p in self._fds if p not in keep]:
            os.close(self._fds.pop(pid))

    def close(self) -> None:
        self._finalizer()


def _close_all(fds: dict[int, int]) -> None:
    for fd in fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/PID/stat, or None when the process is gone."""
    raw = read_proc(pid, "stat", 1024)
    if not raw:
        return None
    return parse_stat(raw)


def owner_uids(pid: int) -> tuple[int, ...] | None:
    """The real, effective, saved and file-system uids of `pid` (/proc/PID/status `Uid:`)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Uid:"):
                    return tuple(int(x) for x in line.split()[1:])
    except (OSError, ValueError):
        return None
    return None


def start_ticks(pid: int) -> int | None:
    stat = read_stat(pid)
    return stat.start_ticks if stat else None


@dataclass(frozen=True)
class ProcessIdentity:
    """A process we started: its pid and the kernel's start time for it."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        ticks = start_ticks(pid)
        return None if ticks is None else cls(pid, ticks)

    def exists(self) -> bool:
        """True while this very process exists (a zombie included)."""
        return start_ticks(self.pid) == self.start

    def is_ours(self) -> bool:
        """True while this very process exists and every uid of it is ours."""
        uids = owner_uids(self.pid)
        return (uids is not None and len(uids) >= 3 and all(u == os.getuid() for u in uids)
                and self.exists())

    def signal(self, sig: int) -> bool:
        """Send `sig` only if the pid still belongs to this process; True if sent.

        The process is pinned first (pidfd_open), then its start time checked, then the
        signal goes through the pidfd: a process that ends and whose pid is reused between
        the check and the kill cannot receive it (a plain kill(pid) after the check could
        reach the newcomer)."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return False
        except (AttributeError, OSError):  # no pidfd (kernel < 5.3): check, then kill
            if not self.exists():
                return False
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return False
            return True
        try:
            if not self.exists():
                return False
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            return False
        finally:
            os.close(pidfd)
        return True


_libc = None


def _prctl(option: int, value: int) -> None:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(option, value, 0, 0, 0)


def die_with_parent(sig: int) -> bool:
    """PR_SET_PDEATHSIG: get `sig` when the parent dies. False if it already has."""
    parent = os.getppid()
    _prctl(1, sig)
    return os.getppid() == parent


def allow_tracer(pid: int) -> None:
    """Let process `pid` and its descendants ptrace this one (PR_SET_PTRACER: needed where
    Yama restricts ptrace to ancestors; without Yama the call fails and nothing is needed)."""
    _prctl(0x59616D61, pid)


def become_subreaper(on: bool = True) -> None:
    """PR_SET_CHILD_SUBREAPER: orphaned descendants are re-parented to us (and reaped).
    `on=False` gives the role up (a test that ran a Runtime inside its own process)."""
    _prctl(36, 1 if on else 0)


def is_subreaper() -> bool:
    """PR_GET_CHILD_SUBREAPER: whether orphaned descendants are re-parented to us now."""
    import ctypes

    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    flag = ctypes.c_int(0)
    _libc.prctl(37, ctypes.byref(flag), 0, 0, 0)
    return bool(flag.value)


def zombie_children(pid: int) -> int:
    """How many of `pid`'s children are zombies, read from the kernel."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            kids = fh.read().split()
    except OSError:
        return 0
    count = 0
    for kid in kids:
        stat = read_stat(int(kid))
        if stat is not None and stat.state == "Z":
            count += 1
    return count


def finished_children():
    """Yield (pid, wait status) for every child that has ended, without blocking."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status
