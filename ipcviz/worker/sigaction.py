"""sigaction(2) flags on a handler CPython installed: SA_RESTART, SA_RESETHAND, SA_NODEFER.

Python's `signal.signal()` always installs the same C-level handler with its own flags
(SA_ONSTACK, no SA_RESTART). A Python function can never be the handler the kernel runs:
the kernel may interrupt the interpreter anywhere (inside malloc, halfway through a
reference count), and the only code that is safe there is async-signal-safe C. CPython's
C handler is that code: it notes the signal and writes one byte to the wakeup fd, and the
Python part runs later, between bytecodes (worker/signals.py counts those bytes).

So ipcviz keeps CPython's C handler and changes only its flags, through libc's sigaction
with ctypes: read the action the kernel holds, set the chosen bits in `sa_flags`, write
the same action back. The flags then act where the course says they do, in the kernel:
SA_RESTART makes a blocking read(2) continue after the handler instead of returning
EINTR, SA_RESETHAND puts back the default action as the handler is entered (the next
one takes the default: usually death), SA_NODEFER leaves the signal unblocked while its
handler runs.

The layout read and written is glibc's generic `struct sigaction` (handler, mask, flags,
restorer). Before trusting it the module checks, on the action it has just read, that the
handler field holds what was installed and that SA_ONSTACK (which CPython always sets)
is in the flags; on another layout it refuses instead of writing a wrong structure.
"""

from __future__ import annotations

import ctypes
import os
import signal

#: the flag names a scenario may give (`sa_flags:`), and their Linux values
FLAGS = {"SA_RESTART": 0x10000000, "SA_RESETHAND": 0x80000000, "SA_NODEFER": 0x40000000}
SA_ONSTACK = 0x08000000


class SigactionUnavailable(OSError):
    """libc's sigaction cannot be used safely here (another structure layout, no libc)."""


class _SigSet(ctypes.Structure):
    _fields_ = [("val", ctypes.c_ulong * (1024 // (8 * ctypes.sizeof(ctypes.c_ulong))))]


class _Sigaction(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("mask", _SigSet), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]


_libc: ctypes.CDLL | None = None


def _sigaction_call() -> ctypes._NamedFuncPointer:
    global _libc
    if _libc is None:
        # the libc the interpreter runs on (dlopen(NULL)): a search for it would run
        # `ldconfig` in a child process, in a worker whose SIGCHLD may be counted
        _libc = ctypes.CDLL(None, use_errno=True)
    call = _libc.sigaction
    call.argtypes = [ctypes.c_int, ctypes.POINTER(_Sigaction), ctypes.POINTER(_Sigaction)]
    call.restype = ctypes.c_int
    return call


def current(num: int) -> _Sigaction:
    """The action the kernel holds for signal `num` (sigaction(num, NULL, &old))."""
    old = _Sigaction()
    if _sigaction_call()(num, None, ctypes.byref(old)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sigaction({num}): {os.strerror(err)}")
    return old


def flag_bits(names: list[str] | tuple[str, ...]) -> int:
    """The sa_flags bits of flag names (names outside FLAGS are refused at load)."""
    bits = 0
    for name in names:
        bits |= FLAGS[name]
    return bits


def set_flags(num: int, bits: int) -> None:
    """Add `bits` to the flags of the handler CPython installed for `num` (call it right
    after `signal.signal(num, python_function)`); the handler and mask are kept as read."""
    action = current(num)
    if action.handler in (None, int(signal.SIG_DFL), int(signal.SIG_IGN)) or not (
            action.flags & SA_ONSTACK):
        raise SigactionUnavailable(
            0, "sigaction flags: the C library's struct sigaction is not the layout ipcviz "
               "knows (the handler CPython installed is not where expected)")
    action.flags = ctypes.c_int((action.flags | bits) & 0xFFFFFFFF).value
    if _sigaction_call()(num, ctypes.byref(action), None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sigaction({num}) with flags {bits:#x} refused")


def flags_now(num: int) -> int:
    """The kernel's sa_flags for `num` now, as an unsigned number (for tests and views)."""
    return current(num).flags & 0xFFFFFFFF
