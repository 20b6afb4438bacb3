"""Processes from /proc: the tree under a root, states, signal masks, and what each waits in."""

from __future__ import annotations

import os
import platform

import psutil

from ..signals import mask_names
from .model import SignalMasks, Wait

STATE_WORDS = {"R": "running", "S": "sleeping", "D": "uninterruptible", "T": "stopped",
               "t": "traced", "Z": "zombie", "X": "dead", "I": "idle", "P": "parked"}

# System call numbers of the calls a process commonly waits in, per architecture.
_X86_64 = {0: "read", 1: "write", 2: "open", 7: "poll", 19: "readv", 20: "writev", 23: "select",
           34: "pause", 35: "nanosleep", 42: "connect", 43: "accept", 44: "sendto",
           45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "wait4", 65: "semop", 69: "msgsnd",
           70: "msgrcv", 73: "flock", 128: "rt_sigtimedwait", 130: "rt_sigsuspend",
           202: "futex", 220: "semtimedop", 230: "clock_nanosleep", 232: "epoll_wait",
           242: "mq_timedsend", 243: "mq_timedreceive", 247: "waitid", 257: "openat",
           270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4"}
_GENERIC = {22: "epoll_pwait", 56: "openat", 63: "read", 64: "write", 65: "readv", 66: "writev",
            72: "pselect6", 73: "ppoll", 95: "waitid", 98: "futex", 101: "nanosleep",
            115: "clock_nanosleep", 133: "rt_sigsuspend", 137: "rt_sigtimedwait",
            182: "mq_timedsend", 183: "mq_timedreceive", 188: "msgrcv", 189: "msgsnd",
            192: "semtimedop", 193: "semop", 202: "accept", 203: "connect", 206: "sendto",
            207: "recvfrom", 211: "sendmsg", 212: "recvmsg", 242: "accept4", 260: "wait4"}
SYSCALLS = _X86_64 if platform.machine() == "x86_64" else _GENERIC

#: Calls whose first argument is the descriptor waited on.
_FD_CALLS = {"read", "write", "readv", "writev", "accept", "accept4", "connect", "sendto",
             "recvfrom", "sendmsg", "recvmsg", "mq_timedsend", "mq_timedreceive", "flock"}

_CALL_WORDS = {"nanosleep": "sleep", "clock_nanosleep": "sleep", "wait4": "wait",
               "waitid": "wait", "pause": "pause (any signal)",
               "rt_sigsuspend": "sigsuspend (any signal)", "rt_sigtimedwait": "sigwait",
               "poll": "poll", "ppoll": "poll", "select": "select", "pselect6": "select",
               "epoll_wait": "epoll", "epoll_pwait": "epoll", "futex": "futex",
               "semop": "semop (System V)", "semtimedop": "semop (System V)",
               "msgsnd": "msgsnd (System V)", "msgrcv": "msgrcv (System V)",
               "accept": "accept", "accept4": "accept", "connect": "connect",
               "mq_timedsend": "mq_timedsend", "mq_timedreceive": "mq_timedreceive",
               "open": "open", "openat": "open", "flock": "flock"}

#: When the system call cannot be read, the kernel function alone still says a lot.
_WCHAN_WORDS = {"pipe_read": "pipe read", "pipe_write": "pipe write", "wait_for_partner":
                "open (FIFO, waiting for the other end)", "futex_wait_queue": "futex",
                "futex_wait_queue_me": "futex", "hrtimer_nanosleep": "sleep",
                "do_nanosleep": "sleep", "do_wait": "wait", "kernel_wait4": "wait",
                "inet_csk_accept": "accept", "unix_stream_read_generic": "socket read",
                "sk_wait_data": "socket read", "do_sys_poll": "poll", "do_select": "select",
                "ep_poll": "epoll", "sigsuspend": "sigsuspend (any signal)",
                "sys_pause": "pause (any signal)", "do_sigtimedwait": "sigwait"}


def read_text(path: str) -> str | None:
    """A /proc file's text, or None when the process has gone or it cannot be read (a
    bare open/read/close: a buffered file object costs twice as much, per file, per
    process, per frame)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        parts = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _children_files_work() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


CHILDREN_FILES = _children_files_work()


def parent_map() -> dict[int, list[int]]:
    """Children of every process, from one pass over the process table: only where the
    kernel has no per-task children files (built without CONFIG_PROC_CHILDREN)."""
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc.pid)
    return children


def children_of(pid: int, parents: dict[int, list[int]] | None) -> list[int]:
    """The pids of a process's children (every thread's), oldest first."""
    if parents is not None:
        return sorted(parents.get(pid, []))
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        text = read_text(f"/proc/{pid}/task/{tid}/children")
        if text:
            found += [int(x) for x in text.split()]
    return sorted(set(found))


def tree(root: int) -> list[tuple[int, list[int]]]:
    """The root and all its descendants, parents before children, with their children.

    Read from the kernel's per-task children files, so the cost follows the tree, not
    the machine: psutil's `children(recursive=True)` scans every process on the machine,
    which a watch would pay ten times a second (bench/psutil_vs_proc.py)."""
    parents = None if CHILDREN_FILES else parent_map()
    out: list[tuple[int, list[int]]] = []
    todo, seen = [root], set()
    while todo:
        pid = todo.pop(0)
        if pid in seen or not os.path.isdir(f"/proc/{pid}"):
            continue
        seen.add(pid)
        kids = children_of(pid, parents)
        out.append((pid, kids))
        todo += kids
    return out


def usage(pid: int) -> tuple[float, int] | None:
    """CPU seconds (user + system) and resident bytes of a process, or None when it has
    gone or cannot be read (psutil: one `oneshot()` reading of its stat and statm)."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            times = proc.cpu_times()
            return times.user + times.system, proc.memory_info().rss
    except psutil.Error:  # NoSuchProcess (gone mid-read), AccessDenied, ZombieProcess
        return None


def parse_status(text: str) -> dict[str, str]:
    """/proc/PID/status as a dict of field -> raw value."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def signal_masks(status: dict[str, str]) -> SignalMasks:
    """The signal sets and queued-signal count of a parsed status."""
    def names(key: str) -> tuple[str, ...]:
        return tuple(mask_names(status.get(key, "0") or "0"))
    queued, _, limit = status.get("SigQ", "0/0").partition("/")
    return SignalMasks(pending=names("SigPnd"), shared_pending=names("ShdPnd"),
                       blocked=names("SigBlk"), ignored=names("SigIgn"), caught=names("SigCgt"),
                       queued=int(queued or 0), queue_limit=int(limit or 0))


def wait_of(pid: int, state: str, fd_kind: dict[int, str]) -> Wait | None:
    """What a sleeping process waits in, from /proc/PID/syscall and /proc/PID/wchan.

    fd_kind maps the process's descriptors to their kind (pipe, fifo, socket, ...) so
    `read` on a pipe reads "pipe read".
    """
    if state not in ("S", "D"):
        return None
    call = fd = wchan = words = None
    text = read_text(f"/proc/{pid}/syscall")
    if text and text[0].isdigit():
        parts = text.split()
        call = SYSCALLS.get(int(parts[0]), f"syscall {parts[0]}")
        if call in _FD_CALLS and len(parts) > 1:
            fd = int(parts[1], 16)
    if call in ("read", "readv", "write", "writev", "recvfrom", "recvmsg", "sendto", "sendmsg"):
        kind = fd_kind.get(fd, "") if fd is not None else ""
        direction = "read" if call.startswith(("read", "recv")) else "write"
        words = f"{kind} {direction}".strip() if kind not in ("", "other") else call
    elif call in _CALL_WORDS:
        words = _CALL_WORDS[call]
    if words is None:
        # wchan costs a kernel symbol lookup (about 150 µs): read only when needed.
        wchan = (read_text(f"/proc/{pid}/wchan") or "").strip() or None
        wchan = None if wchan == "0" else wchan
        words = _WCHAN_WORDS.get(wchan or "") or call or wchan or "sleeping"
    return Wait(words=words, syscall=call, fd=fd, wchan=wchan)
