"""Formatting of numbers and states for display: pure functions, unit tested."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; 0 -> '0 B'."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """7.25 -> '7.2 s'; 125 -> '2:05'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def waiting_text(op: str, on: str | None = None) -> str:
    """What a blocked worker waits in, in words: "write p", "acquire lock_b"; an RPC
    caller or server "waiting for the answer on rpc" / "waiting for a call on rpc"."""
    if op in _RPC_WAITS and on:
        return f"{_RPC_WAITS[op]} on {on}"
    return f"{op} {on}" if on else op


_RPC_WAITS = {"call": "waiting for the answer", "serve": "waiting for a call"}


def format_state(state: str, blocked_on: str | None = None, exit_text: str = "",
                 paused: bool = False) -> str:
    """A worker's state as one phrase: 'blocked on write ask', 'killed by SIGKILL'."""
    if state == "exited" and exit_text:
        return exit_text
    if state == "blocked" and blocked_on:
        return blocked_on if blocked_on.startswith("waiting") else f"blocked on {blocked_on}"
    if paused and state in ("sleeping", "running"):
        return "paused (steps)"
    return state


def bar(fraction: float, width: int) -> str:
    """A text bar of `width` cells filled to `fraction` (0..1), with eighth-cell precision."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width)[:width]


def format_counts(counts: dict[str, int]) -> str:
    """{'SIGUSR1': 3, 'SIGTERM': 1} -> 'SIGUSR1 3, SIGTERM 1' ('-' when empty)."""
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def signal_gap_reason(sig: str, sent: int, received: int, masks: dict[str, list[str]],
                      exit: int | str | None, realtime: bool, merged: int | None = None,
                      state: str = "") -> str:
    """Why a worker received fewer (or more) of `sig` than were sent to it, in words (for
    the current process life: the caller counts what was sent since the last start).
    `merged`: how many of them the counts prove were merged (WorkerView.signals_merged;
    None when not known, as in old recordings: then the frame's own state decides);
    the rest is in flight, never called coalesced."""
    if received > sent:
        if sig == "SIGCHLD":
            return "sent by the kernel each time a child ended (or stopped)"
        return "also sent by other processes or the kernel"
    if sent == received:
        return ""
    if exit == sig:  # the one that killed it is never counted; any others were not either
        more = sent - received - 1
        return "its default action killed the process" + (
            f"; {more} more not counted (discarded while ignored, or not handled before "
            "it ended)" if more > 0 else "")
    if sig == "SIGKILL":
        return "kills at once: never counted (it cannot be caught)"
    if sig == "SIGSTOP":
        return "stops the process (it cannot be caught, so nothing counts it)"
    if sig in ("SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU") and sig not in masks.get(
            "caught", []):
        return ("continues a stopped process; counted only with a handler" if sig ==
                "SIGCONT" else "stops the process by default; counted only with a handler")
    if exit is not None:  # what was proven merged while it lived stays merged
        gap = sent - received
        merged = min(merged or 0, gap)
        if merged > 0:
            text = (f"coalesced: {merged} arrived while one was already pending (standard "
                    "signals do not queue)")
            return text + (f"; {gap - merged} not received before the process ended"
                           if gap > merged else "")
        return "not received before the process ended"
    if sig in masks.get("ignored", []):
        return "ignored (SIG_IGN): the kernel discards it"
    if sig in masks.get("blocked", []):
        if sig in masks.get("pending", []) or sig in masks.get("shared_pending", []):
            if realtime:
                return f"blocked: {sent - received} queued, waiting in the pending set"
            return "blocked: one pending bit, however many arrive"
        return "blocked"
    if realtime:  # queued, or delivered and being counted: never merged
        return "in flight: queued or being counted (real-time signals do not merge)"
    gap = sent - received
    pending = sig in masks.get("pending", []) or sig in masks.get("shared_pending", [])
    if merged is None:  # not known: merged only if the frame shows nothing in flight
        merged = 0 if pending or state in ("running", "stopped", "") else gap
    merged = min(merged, gap)
    if merged > 0:
        text = (f"coalesced: {merged} arrived while one was already pending (standard "
                "signals do not queue)")
        return text + (f"; {gap - merged} in flight" if gap > merged else "")
    if pending:
        return "in flight: pending in the kernel, its handler has not run yet"
    return "in flight: sent, its handler has not counted it yet"


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], top: float | None = None) -> str:
    """Values as one line of block characters, scaled to `top` (default: their maximum)."""
    if not values:
        return ""
    high = top if top else max(values)
    if high <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(7, max(0, round(v / high * 7)))] for v in values)


#: Unicode characters that are not printable text: controls (C0, DEL, C1), format
#: characters (bidi overrides such as U+202E, zero-width joiners) and line separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def escape_control(text: str, keep_newlines: bool = False) -> str:
    """User text made safe for a terminal: every control or invisible format character
    (NUL, ESC of an ANSI sequence, an RTL override) is shown as \\xNN or \\uNNNN, so a
    scenario file cannot move the cursor, recolour or reorder what the CLI prints.
    With `keep_newlines`, line breaks stay (for multi-line reports)."""
    import unicodedata

    if text.isascii() and (text.isprintable() or keep_newlines and text.replace("\n", "").isprintable()):
        return text  # the common case, cheap
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch.isprintable() and unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


@overload
def escape_tree(value: dict[str, Any]) -> dict[str, Any]: ...


@overload
def escape_tree(value: object) -> object: ...


def escape_tree(value: object) -> object:
    """`escape_control` on every string of a decoded JSON value (keys too), newlines kept:
    what a Snapshot or a recording says reaches the terminal only as visible text (a
    scenario's description, a pipe's last bytes, a recording from someone else)."""
    if isinstance(value, str):
        return escape_control(value, keep_newlines=True)
    if isinstance(value, list):
        return [escape_tree(v) for v in value]
    if isinstance(value, dict):
        return {escape_tree(k): escape_tree(v) for k, v in value.items()}
    return value


def speed_text(speed: float) -> str:
    """A slow-motion factor as the header shows it: "×1/4"; empty at full speed."""
    if speed >= 1 or speed <= 0:
        return ""
    return f"×1/{round(1 / speed)}"
