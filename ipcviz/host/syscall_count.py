"""A process's system calls, counted by the kernel: a perf counter on the tracepoint
`raw_syscalls:sys_enter`, which fires once for every system call the process enters,
whatever the call (read, sendto, mq_timedsend, futex...).

Why this source: it is exact and cheap. The counter lives in the kernel and is read with
one read(); nothing stops the process at each call as strace does (strace slows every
call many times over and changes how often a semaphore has to wait, so its count of
futex calls is not the untraced one). /proc/PID/io's `syscr`/`syscw` are exact too but
count only the read and write family: an mq_send, a socket's send or a semaphore's futex
adds nothing there, so a queue would look free.

What it needs: the tracepoint's id from tracefs (readable by root only, on most
systems) and perf_event_open allowed to this user; `unavailable` says in one line why
not. A counter on this process counts its own reads of the counter; `read` leaves them
out, so what it returns is only what the process did in between.

A counter may also count one call by name (`call="write"`: the tracepoint
`syscalls:sys_exit_write`, one per call that returned), and only the calls that
succeeded (`succeeded=True`: the kernel's filter `ret >= 0`), so a write that moved a
message is told from one that failed with EAGAIN and sent the process to wait; or only
those that returned at least `least` (`least=1`: a read that moved bytes, not one that
met end-of-file).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import re
import struct

__all__ = ["CpuClock", "SyscallCounter", "unavailable"]

#: perf_event_open's number, by machine (no libc wrapper exists)
_SYSCALL_NUMBERS = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "i686": 336,
                    "i386": 336, "armv7l": 364, "ppc64le": 319, "s390x": 331}
#: where tracefs is mounted, the current place first
_TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
_EVENT = "events/raw_syscalls/sys_enter/id"
_CALL_EVENT = "events/syscalls/sys_exit_{}/id"
_CALL_NAME = re.compile(r"[a-z0-9_]{1,40}")
_PERF_TYPE_SOFTWARE, _PERF_TYPE_TRACEPOINT = 1, 2
_SW_TASK_CLOCK = 1
_ATTR_SIZE = 128  # PERF_ATTR_SIZE_VER7 and larger: the kernel accepts any known size
_FLAG_DISABLED = 1  # created stopped; `start` enables it
_IOC_ENABLE, _IOC_RESET = 0x2400, 0x2403
#: PERF_EVENT_IOC_SET_FILTER, _IOW('$', 6, char *) on a 64-bit machine
_IOC_SET_FILTER = 0x40082406 if struct.calcsize("P") == 8 else 0x40042406
_COUNT = struct.Struct("=Q")


def _tracepoint_id(call: str | None = None) -> int:
    """The id of raw_syscalls:sys_enter, or of syscalls:sys_exit_CALL (OSError: tracefs
    is not there or not readable, or no such call)."""
    if call is not None and not _CALL_NAME.fullmatch(call):
        raise OSError(errno.EINVAL, f"no system call named {call!r}")
    event = _EVENT if call is None else _CALL_EVENT.format(call)
    last: OSError = FileNotFoundError(errno.ENOENT, "tracefs is not mounted")
    for root in _TRACEFS:
        try:
            with open(os.path.join(root, event), "rb") as f:
                return int(f.read().strip())
        except OSError as exc:
            last = exc
    raise last


def _perf_open(libc: ctypes.CDLL, pid: int, kind: int, config: int) -> int:
    """A perf counter of `kind` and `config` on process `pid`, created stopped."""
    number = _SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    attr = bytearray(_ATTR_SIZE)
    struct.pack_into("=IIQQQQQ", attr, 0, kind, _ATTR_SIZE, config, 0, 0, 0, _FLAG_DISABLED)
    libc.syscall.restype = ctypes.c_long
    fd = int(libc.syscall(ctypes.c_long(number), ctypes.create_string_buffer(bytes(attr)),
                          ctypes.c_int(pid), ctypes.c_int(-1), ctypes.c_int(-1),
                          ctypes.c_ulong(0)))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def unavailable() -> str | None:
    """Why system calls cannot be counted here, in one line, or None."""
    if platform.machine() not in _SYSCALL_NUMBERS:
        return f"counting system calls is not supported on {platform.machine()}"
    try:
        SyscallCounter(0).close()
    except OSError as exc:
        return (f"the kernel's count of system calls is not readable here ({exc.strerror}: "
                "needs root, or tracefs and perf events open to this user)")
    return None


class SyscallCounter:
    """The system calls that process `pid` (0: this one) enters from `start` on: all of
    them, or only the `call` of that name (counted as it returns; `succeeded`: only the
    returns that were not an error; `least`: only the returns of at least that value)."""

    def __init__(self, pid: int = 0, call: str | None = None, succeeded: bool = False,
                 least: int | None = None) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = _perf_open(libc, pid, _PERF_TYPE_TRACEPOINT, _tracepoint_id(call))
        self.fd: int = fd
        self.pid = pid
        self.call = call
        os.set_inheritable(fd, False)
        if succeeded and least is None:
            least = 0
        if least is not None:
            text = ctypes.create_string_buffer(f"ret >= {int(least)}".encode())
            if libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(_IOC_SET_FILTER), text) != 0:
                code = ctypes.get_errno()
                os.close(fd)
                raise OSError(code, os.strerror(code))
        #: reads of a counter on this process, each of them counted by it
        self._own_reads = 0

    def start(self) -> None:
        """Set the count to zero and begin counting."""
        fcntl.ioctl(self.fd, _IOC_RESET, 0)
        fcntl.ioctl(self.fd, _IOC_ENABLE, 0)
        self._own_reads = 0

    def read(self) -> int:
        """The system calls entered since `start`, without this counter's own reads. A
        counter on another process keeps its count after that process has exited."""
        count = _COUNT.unpack(os.read(self.fd, _COUNT.size))[0]
        if self.pid == 0 and self.call in (None, "read"):
            # every call is counted as it enters (this read too); a read, as it returns
            # (the reads before this one)
            count -= self._own_reads + (self.call is None)
            self._own_reads += 1
        return int(count)

    def close(self) -> None:
        """Give the counter back to the kernel."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CpuClock:
    """The CPU time process `pid` spends from `start` on, in nanoseconds, from the kernel's
    task clock (not /proc's ticks of a hundredth of a second): what a few thousand calls
    cost. Like a SyscallCounter it keeps its count after the process has exited."""

    def __init__(self, pid: int) -> None:
        self.fd: int = _perf_open(ctypes.CDLL(None, use_errno=True), pid,
                                  _PERF_TYPE_SOFTWARE, _SW_TASK_CLOCK)
        os.set_inheritable(self.fd, False)

    def start(self) -> None:
        """Set the clock to zero and start it."""
        fcntl.ioctl(self.fd, _IOC_RESET, 0)
        fcntl.ioctl(self.fd, _IOC_ENABLE, 0)

    def read(self) -> int:
        """Nanoseconds on a CPU since `start`."""
        return int(_COUNT.unpack(os.read(self.fd, _COUNT.size))[0])

    def close(self) -> None:
        """Give the clock back to the kernel."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
