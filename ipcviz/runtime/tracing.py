"""`trace: true` on a program (`ipcviz watch --trace`): strace follows its whole tree, and
its output is counted here: every signal the kernel delivered to a process of the tree
(exact, one line per delivery), and the bytes and calls of each read and write by
descriptor (pipe:[inode], socket:[inode], a path, a message queue).

strace attaches to the program after the runtime's fork and before the start gate opens,
so everything the program does after its exec is seen; the program's fork allows it
(PR_SET_PTRACER, for kernels with Yama). Its output comes through a pipe that the runtime
reads in its loop; strace itself is a helper process of the run, in the registry like
every other, and ends when the program's tree has ended.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

from ipcviz.host.process import ProcessIdentity, die_with_parent
from ipcviz.signals import signal_name

#: the system calls whose bytes are counted per descriptor (signals are always seen)
CALLS = ("read", "write", "readv", "writev", "pread64", "pwrite64", "recvfrom", "sendto",
         "recvmsg", "sendmsg", "mq_timedsend", "mq_timedreceive")
_WRITES = frozenset({"write", "writev", "pwrite64", "sendto", "sendmsg", "mq_timedsend"})
_MESSAGES = frozenset({"mq_timedsend", "mq_timedreceive"})
#: how long to wait for strace to attach before the program is let go without it
ATTACH_SECONDS = 5.0

_PID = re.compile(rb"^(\d+) +")
_SIGNAL = re.compile(rb"^--- (SIG[A-Z0-9_]+) ")
_CALL = re.compile(rb"^(\w+)\((\d+)<((?:[^>\\]|\\.)*)>")
_RESUMED = re.compile(rb"^<\.\.\. (\w+) resumed>")
#: a call's result, at the end of its line ("= 5", or "= -1 EPIPE (Broken pipe)"): a
#: descriptor's path earlier in the line cannot pass for it
_RESULT = re.compile(rb"\) += (-?\d+)(?: [A-Z][A-Z0-9_]*(?: \([^()]*\))?)?$")
#: most descriptors counted per program (the rest add up under "other")
MAX_DESCRIPTORS = 256
_MQ_LEN = re.compile(rb"^mq_timedsend\(\d+<[^>]*>, (?:\"[^\"]*\"(?:\.\.\.)?|0x[0-9a-f]+), (\d+)")


def strace_missing() -> str | None:
    """Why --trace cannot work here, in one line, or None."""
    if shutil.which("strace") is None:
        return "--trace needs strace (Debian/Ubuntu: apt install strace)"
    return None


def kernel_signal(name: str) -> int | None:
    """strace's signal names as numbers: SIGRT_2 is the kernel's 32 + 2 (glibc's
    SIGRTMIN); the others by their usual names."""
    if name.startswith("SIGRT_"):
        return 32 + int(name[6:])
    if name == "SIGRTMIN":
        return 32
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


@dataclass
class Traffic:
    """One descriptor's traffic as strace saw it (successful calls only)."""

    bytes_written: int = 0
    bytes_read: int = 0
    writes: int = 0
    reads: int = 0
    messages_sent: int = 0
    messages_received: int = 0


@dataclass
class Trace:
    """One program's strace: its process, the read end of its output, and the counts."""

    worker: str
    process: subprocess.Popen
    fd: int
    signals: Counter = field(default_factory=Counter)
    #: (pid, signal number) -> deliveries: which process of the tree got them
    by_process: Counter = field(default_factory=Counter)
    traffic: dict[str, Traffic] = field(default_factory=dict)
    #: pid -> (call, descriptor target, mq length) of a call strace printed unfinished
    pending: dict[int, tuple[bytes, bytes, int]] = field(default_factory=dict)
    partial: bytes = b""
    attached: bool = False
    lines: int = 0

    def feed(self, data: bytes) -> None:
        data = self.partial + data
        *whole, self.partial = data.split(b"\n")
        for line in whole:
            self.lines += 1
            self._line(line)

    def _line(self, line: bytes) -> None:
        match = _PID.match(line)
        if match is None:
            return
        pid, rest = int(match.group(1)), line[match.end():]
        if rest.startswith(b"---"):
            sig = _SIGNAL.match(rest)
            number = kernel_signal(sig.group(1).decode()) if sig else None
            if number is not None:
                self.signals[number] += 1
                self.by_process[(pid, number)] += 1
            return
        resumed = _RESUMED.match(rest)
        if resumed is not None:
            call_target = self.pending.pop(pid, None)
            if call_target is None:
                return
            call, target, length = call_target
        else:
            call_match = _CALL.match(rest)
            if call_match is None:
                return
            call, target = call_match.group(1), call_match.group(3)
            mq = _MQ_LEN.match(rest)
            length = int(mq.group(1)) if mq else 0
            if rest.endswith(b"<unfinished ...>"):
                self.pending[pid] = (call, target, length)
                return
        found = _RESULT.search(rest)
        if found is None:  # "= ? ERESTARTSYS": interrupted, nothing moved
            return
        result = int(found.group(1))
        if result < 0:
            return
        name = call.decode()
        key = target.decode("utf-8", "backslashreplace")
        if key not in self.traffic and len(self.traffic) >= MAX_DESCRIPTORS:
            key = "other"
        traffic = self.traffic.setdefault(key, Traffic())
        if name in _WRITES:
            traffic.writes += 1
            traffic.bytes_written += length if name == "mq_timedsend" else result
            traffic.messages_sent += name in _MESSAGES
        else:
            traffic.reads += 1
            traffic.bytes_read += result
            traffic.messages_received += name in _MESSAGES

    def view(self) -> dict:
        """The counts as plain data for the Snapshot (signals by name, in number order)."""
        return {"attached": self.attached,
                "signals_received": {signal_name(n): c for n, c in sorted(self.signals.items())},
                "signals_by_process": {
                    str(pid): {signal_name(n): c for (p, n), c in sorted(self.by_process.items())
                               if p == pid}
                    for pid in sorted({p for p, _ in self.by_process})},
                "descriptors": {target: dict(t.__dict__) for target, t in
                                sorted(self.traffic.items())}}


@dataclass
class Tracing:
    """Every traced program of the run, by worker."""

    log_event: object = None  # (worker, text, kind) -> None
    traces: dict[str, Trace] = field(default_factory=dict)
    #: strace's pids: the runtime's reaper leaves them to Popen
    pids: set[int] = field(default_factory=set)

    def attach(self, worker: str, pid: int, err_path: str) -> ProcessIdentity | None:
        """Start strace on `pid` (the program's fork, waiting at the start gate or about
        to exec) and wait until it is attached; the helper's identity, for the registry."""
        earlier = self.traces.pop(worker, None)
        if earlier is not None:  # a restart: the earlier life's strace is done
            self._end(earlier, 0.5)
        deadline = time.monotonic() + ATTACH_SECONDS
        while True:
            trace = self._start(worker, pid, err_path)
            process = trace.process
            while time.monotonic() < deadline and process.poll() is None:
                if _tracer(pid) == process.pid:
                    trace.attached = True
                    break
                time.sleep(0.005)
            if trace.attached or time.monotonic() >= deadline or not _alive(pid):
                break
            # strace gave up at once (the fork had not allowed it yet, under Yama): again
            self._end(trace, 0.5)
            time.sleep(0.02)
        self.traces[worker] = trace
        if not trace.attached:
            tail = _last_line(err_path)
            self._say(worker, "--trace: strace could not attach" + (f": {tail}" if tail
                                                                     else ""))
        return ProcessIdentity.of(process.pid)

    def _start(self, worker: str, pid: int, err_path: str) -> Trace:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_inheritable(read_fd, False)
        argv = ["strace", "-f", "-qq", "-s", "0", "-y", "-e", "trace=" + ",".join(CALLS),
                "-o", f"/proc/self/fd/{write_fd}", "-p", str(pid)]
        try:
            with open(err_path, "ab") as err:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=err,
                                           pass_fds=(write_fd,), close_fds=True,
                                           preexec_fn=lambda: die_with_parent(signal.SIGKILL))
        finally:
            os.close(write_fd)
        self.pids.add(process.pid)
        return Trace(worker, process, read_fd)

    def _end(self, trace: Trace, timeout: float) -> None:
        """Wait for strace to end (reading what it writes meanwhile, so it never blocks on
        a full pipe), kill it if it has not, read the rest, close."""
        deadline = time.monotonic() + timeout
        while trace.process.poll() is None and time.monotonic() < deadline:
            self._drain(trace)
            time.sleep(0.01)
        if trace.process.poll() is None:
            trace.process.kill()
            trace.process.wait()
        self.pids.discard(trace.process.pid)
        self._drain(trace)
        if trace.fd >= 0:
            os.close(trace.fd)
            trace.fd = -1

    def _say(self, worker: str, text: str) -> None:
        if callable(self.log_event):
            self.log_event(worker, text, "runtime")

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(t.fd for t in self.traces.values() if t.fd >= 0)

    def read(self, fd: int) -> None:
        for trace in self.traces.values():
            if trace.fd == fd:
                self._drain(trace)

    def drain(self) -> None:
        for trace in self.traces.values():
            self._drain(trace)

    @staticmethod
    def _drain(trace: Trace) -> None:
        while trace.fd >= 0:
            try:
                chunk = os.read(trace.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # strace has ended
                os.close(trace.fd)
                trace.fd = -1
                return
            trace.feed(chunk)

    def view(self, worker: str) -> dict | None:
        """The counts of `worker`'s strace up to now (what it has written is read first),
        or None when it is not traced."""
        trace = self.traces.get(worker)
        if trace is None:
            return None
        self._drain(trace)
        return trace.view()

    def stop(self, timeout: float = 2.0) -> None:
        """After the programs' trees have been killed: strace ends by itself (no tracee
        left); read what it wrote last, and end one that has not."""
        deadline = time.monotonic() + timeout
        for trace in self.traces.values():
            self._end(trace, max(0.0, deadline - time.monotonic()))


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/stat")


def _tracer(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            lines = fh.read()[-2000:].decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""
