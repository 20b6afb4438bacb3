"""Signal names, numbers, default actions and kernel mask decoding (pure functions)."""

from __future__ import annotations

import signal as _signal

SIGRTMIN = int(_signal.SIGRTMIN)
SIGRTMAX = int(_signal.SIGRTMAX)
NSIG = SIGRTMAX + 1

#: Signals no process can catch, block or ignore.
UNCATCHABLE = frozenset({int(_signal.SIGKILL), int(_signal.SIGSTOP)})

_STANDARD: dict[int, str] = {}
for _s in _signal.Signals:
    if int(_s) < SIGRTMIN and _s.name not in ("SIGIOT", "SIGCLD", "SIGPOLL"):
        _STANDARD.setdefault(int(_s), _s.name)
_BY_NAME = {name: num for num, name in _STANDARD.items()}
_BY_NAME.update({"SIGIOT": int(_signal.SIGABRT), "SIGCLD": int(_signal.SIGCHLD)})

_TERM, _CORE, _IGN, _STOP, _CONT = "terminate", "core dump", "ignore", "stop", "continue"
_DEFAULT_ACTION = {
    "SIGHUP": _TERM, "SIGINT": _TERM, "SIGQUIT": _CORE, "SIGILL": _CORE, "SIGTRAP": _CORE,
    "SIGABRT": _CORE, "SIGBUS": _CORE, "SIGFPE": _CORE, "SIGKILL": _TERM, "SIGUSR1": _TERM,
    "SIGSEGV": _CORE, "SIGUSR2": _TERM, "SIGPIPE": _TERM, "SIGALRM": _TERM, "SIGTERM": _TERM,
    "SIGSTKFLT": _TERM, "SIGCHLD": _IGN, "SIGCONT": _CONT, "SIGSTOP": _STOP, "SIGTSTP": _STOP,
    "SIGTTIN": _STOP, "SIGTTOU": _STOP, "SIGURG": _IGN, "SIGXCPU": _CORE, "SIGXFSZ": _CORE,
    "SIGVTALRM": _TERM, "SIGPROF": _TERM, "SIGWINCH": _IGN, "SIGIO": _TERM, "SIGPWR": _TERM,
    "SIGSYS": _CORE,
}


def valid_numbers() -> list[int]:
    """Every signal number a scenario may name: the standard ones and the real-time range."""
    return sorted(_STANDARD) + list(range(SIGRTMIN, SIGRTMAX + 1))


def is_realtime(num: int) -> bool:
    """Real-time signals queue; standard ones coalesce while pending."""
    return SIGRTMIN <= num <= SIGRTMAX


def signal_name(num: int) -> str:
    """The name `kill -l` prints: SIGUSR1, SIGRTMIN+3, SIGRTMAX-2."""
    if num in _STANDARD:
        return _STANDARD[num]
    if SIGRTMIN <= num <= SIGRTMAX:
        offset = num - SIGRTMIN
        if offset == 0:
            return "SIGRTMIN"
        if num == SIGRTMAX:
            return "SIGRTMAX"
        if offset <= (SIGRTMAX - SIGRTMIN) // 2:
            return f"SIGRTMIN+{offset}"
        return f"SIGRTMAX-{SIGRTMAX - num}"
    return f"SIG{num}"


def default_action(num: int) -> str:
    """What the kernel does with a signal nobody handles."""
    if is_realtime(num):
        return _TERM
    return _DEFAULT_ACTION.get(signal_name(num), _TERM)


def parse_signal(value: object) -> int:
    """Turn `SIGUSR1`, `usr1`, `SIGRTMIN+2`, `SIGRTMAX-1` or `10` into a signal number.

    Raises ValueError with a message saying what would be right.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a signal (use a name like SIGUSR1 or a number)")
    if isinstance(value, int):
        num = value
    elif isinstance(value, str):
        text = value.strip().upper()
        if text.isascii() and text.isdigit():  # ('²' and '١٠' are digits to isdigit too)
            num = int(text)
        else:
            if not text.startswith("SIG"):
                text = "SIG" + text
            num = _parse_name(text, value)
    else:
        raise ValueError(f"{value!r} is not a signal (use a name like SIGUSR1 or a number)")
    if num not in _STANDARD and not (SIGRTMIN <= num <= SIGRTMAX):
        raise ValueError(
            f"no signal number {num} (valid: 1-31 and {SIGRTMIN}-{SIGRTMAX}, "
            "or a name like SIGUSR1, SIGRTMIN+2)"
        )
    return num


def _parse_name(text: str, original: str) -> int:
    for base, anchor in (("SIGRTMIN", SIGRTMIN), ("SIGRTMAX", SIGRTMAX)):
        if text.startswith(base):
            rest = text[len(base):].replace(" ", "")
            offset = 0
            if rest:
                if rest[0] not in "+-" or not rest[1:].isdigit():
                    break
                offset = int(rest[1:]) * (1 if rest[0] == "+" else -1)
            num = anchor + offset
            if not SIGRTMIN <= num <= SIGRTMAX:
                raise ValueError(
                    f"{original!r} is outside the real-time range "
                    f"SIGRTMIN..SIGRTMAX ({SIGRTMIN}..{SIGRTMAX})"
                )
            return num
    if text in _BY_NAME:
        return _BY_NAME[text]
    raise ValueError(f"unknown signal {original!r} (e.g. SIGUSR1, SIGTERM, SIGRTMIN+2, or a number)")


def decode_mask(mask: int | str) -> list[int]:
    """Signal numbers set in a /proc/PID/status mask (hex string or int): bit n-1 is signal n."""
    value = int(mask, 16) if isinstance(mask, str) else mask
    out = []
    num = 1
    while value:
        if value & 1:
            out.append(num)
        value >>= 1
        num += 1
    return out


#: Signals the C library keeps for itself (NPTL); hidden from displayed masks.
LIBC_INTERNAL = frozenset(range(32, SIGRTMIN))


def mask_names(mask: int | str) -> list[str]:
    """Names of the signals in a kernel mask, e.g. ['SIGUSR1', 'SIGRTMIN+1'] (libc's own hidden)."""
    return [signal_name(n) for n in decode_mask(mask) if n not in LIBC_INTERNAL]


#: What `signal: {to: parent}` may send to the runtime: signals it counts and survives.
#: Everything else (SIGKILL, SIGSTOP and the terminal stops, SIGTERM/SIGINT/SIGHUP, which
#: end the run, and the core-dumping ones) is refused when the scenario is loaded.
PARENT_SIGNALS = frozenset(
    {int(_signal.SIGUSR1), int(_signal.SIGUSR2), int(_signal.SIGALRM), int(_signal.SIGCHLD),
     int(_signal.SIGURG), int(_signal.SIGWINCH), int(_signal.SIGCONT)}
    | set(range(SIGRTMIN, SIGRTMAX + 1))
)
