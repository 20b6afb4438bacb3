"""The runtime's signal inbox: every signal sent to it, with who sent it (signalfd).

The signals a scenario may send to `parent` (and the stop requests) are blocked and read
from a signalfd, one record per delivery with the sender's pid and `si_code`. So a
SIGCHLD a worker sent with kill() is told apart from the kernel's SIGCHLD for a child
that ended, and a terminal's SIGWINCH from a scenario's. Nothing a sender does can run
code in the runtime: a signal here is a counted record, never an action (except the stop
requests SIGTERM, SIGINT and SIGHUP, which end the run cleanly).
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct

from ipcviz.signals import SIGRTMAX, SIGRTMIN

_SFD_NONBLOCK = os.O_NONBLOCK
_SFD_CLOEXEC = 0o2000000
_RECORD = 128  # sizeof(struct signalfd_siginfo)
_HEAD = struct.Struct("=IiiI")  # ssi_signo, ssi_errno, ssi_code, ssi_pid

#: the stack fault signal, named in `signal` only from Python 3.11 (16 on Linux)
_SIGSTKFLT = int(getattr(signal, "SIGSTKFLT", 16))

STOP_REQUESTS = frozenset({int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIGHUP)})

#: Routed through the inbox: everything a process may send us except the synchronous
#: faults (a real fault must still kill), the terminal stops (Ctrl-Z on a headless run
#: still suspends it) and SIGKILL/SIGSTOP (which nothing can catch).
INBOX_SIGNALS = frozenset(
    {int(s) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
                      signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTERM,
                      _SIGSTKFLT, signal.SIGCHLD, signal.SIGCONT, signal.SIGURG,
                      signal.SIGXCPU, signal.SIGXFSZ, signal.SIGVTALRM, signal.SIGPROF,
                      signal.SIGWINCH, signal.SIGIO, signal.SIGPWR)}
    | set(range(SIGRTMIN, SIGRTMAX + 1))
)


class SignalInbox:
    """Blocks `INBOX_SIGNALS` in this thread and reads them from a signalfd."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.create_string_buffer(128)  # glibc's sigset_t
        libc.sigemptyset(mask)
        for num in sorted(INBOX_SIGNALS):
            libc.sigaddset(mask, num)
        self._saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, INBOX_SIGNALS)
        fd = libc.signalfd(-1, mask, _SFD_NONBLOCK | _SFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            signal.pthread_sigmask(signal.SIG_SETMASK, self._saved_mask)
            raise OSError(err, f"signalfd: {os.strerror(err)}")
        self.fd = fd

    def read(self, limit: int = 4096) -> list[tuple[int, int, int]]:
        """(signal, si_code, sender pid) of the deliveries waiting, oldest first; at most
        about `limit`, so a sender flooding the runtime cannot hold its loop here."""
        out: list[tuple[int, int, int]] = []
        while self.fd >= 0 and len(out) < limit:
            try:
                data = os.read(self.fd, _RECORD * 256)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            for offset in range(0, len(data) - _RECORD + 1, _RECORD):
                signo, _errno, code, pid = _HEAD.unpack_from(data, offset)
                out.append((signo, code, pid))
        return out

    def close(self) -> None:
        """Close the fd and give the thread its old mask back (what is still pending is
        delivered to the handlers then, which only count)."""
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        signal.pthread_sigmask(signal.SIG_SETMASK, self._saved_mask)


def sent_by_a_process(code: int) -> bool:
    """True for kill()/sigqueue()/tgkill() (si_code <= 0), False for what the kernel made
    (a child's exit, a terminal resize, a write to a closed pipe is SI_USER from ourselves)."""
    return code <= 0
