"""Event and failure text: what a worker's event ring and failure cells say, in words."""

from __future__ import annotations

import errno
import os

import numpy as np

from ipcviz.scenario.kinds import DISPOSITIONS
from ipcviz.signals import signal_name
from ipcviz.telemetry import table as T


def describe_event(kind: int, a: int, b: int, channel_names: list[str],
                   row_names: list[str], shapes: dict[int, tuple[int, ...]] | None = None
                   ) -> tuple[str, str]:
    """Text and category of one event from a worker's ring (`shapes`: each shared
    array's shape by channel index, so an element of a 2-D array reads [row, col])."""
    def ch(i: int) -> str:
        return channel_names[i] if 0 <= i < len(channel_names) else f"#{i}"

    if kind == T.EV_STARTED:
        return f"started (pid {a})", "start"
    if kind == T.EV_SIGNAL:
        how = {1: "handled (log)", 2: "handled: exiting"}.get(b, "handled")
        return f"{signal_name(a)} {how}", "signal"
    if kind == T.EV_EOF:
        return f"end of file on {ch(a)}: every writer has gone", "io"
    if kind == T.EV_EPIPE:
        times = f" (failure #{b})" if b > 1 else ""
        return f"write to {ch(a)} failed: EPIPE (no reader left){times}", "io"
    if kind == T.EV_EXITING:
        why = {T.EXIT_BY_HANDLER: "its exit handler ran: exiting",
               T.EXIT_BY_STEP: "exit step: exiting",
               T.EXIT_FAILED: "a step failed: exiting"}.get(b, "steps done, exiting")
        return f"{why} with status {a}", "exit"
    if kind == T.EV_SENT:
        row, count = b >> 20, b & 0xFFFFF
        target = "parent (runtime)" if row < 0 else (
            row_names[row] if row < len(row_names) else f"row {row}")
        return f"sent {signal_name(a)} ×{count} to {target}", "signal"
    if kind == T.EV_SPAWNED:  # a child spawned this very moment may not be named yet
        named = 0 <= a < len(row_names) and row_names[a]
        return f"spawned {row_names[a] if named else 'a child'} (pid {b})", "start"
    if kind == T.EV_REAPED:
        return f"reaped {_row(a, row_names)} (waitpid)", "exit"
    if kind == T.EV_SPAWN_LIMIT:
        return f"spawn refused: all {a} child rows used", "info"
    if kind == T.EV_PROCESS_CAP:
        return f"spawn refused: process cap {a} reached", "info"
    if kind == T.EV_SELF_READ:
        return f"read its OWN message back from {ch(a)} ({b} bytes)", "io"
    if kind == T.EV_SEND_FULL:
        return f"send to {ch(a)} failed: queue full (non-blocking)", "io"
    if kind == T.EV_PRIORITY:
        priority, left = b >> 20, b & 0xFFFFF
        return (f"took a PRIORITY {priority} message from {ch(a)} first, ahead of {left} "
                "still queued (highest priority first)"), "io"
    if kind == T.EV_RETRY:
        return f"no ack in time: sent message #{b} to {ch(a)} AGAIN", "io"
    if kind == T.EV_DUPLICATE:
        return f"DUPLICATE: message #{b} from {ch(a)} arrived before", "io"
    if kind == T.EV_TORN_READ:
        return f"TORN READ on {ch(a)}: saw {b} B of a record still being written", "io"
    if T.EV_CALL_ANSWERED <= kind <= T.EV_STALE_ANSWER:
        return _rpc_event(kind, ch(a), b >> 24, b & 0xFFFFFF), "io"
    if kind == T.EV_SET:
        shape = (shapes or {}).get(a, ())
        if b < 0:
            where = "every element"
        elif len(shape) == 2 and shape[1]:
            where = f"element [{b // shape[1]}, {b % shape[1]}]"
        else:
            where = f"element {b}"
        return f"wrote {ch(a)}: {where}", "io"
    if kind in (T.EV_LOADED, T.EV_STORED):
        channel, index = a & 0xFFFF, a >> 16
        where = f"{ch(channel)}{_element(index, (shapes or {}).get(channel, ()))}"
        if kind == T.EV_LOADED:
            return f"load {where} → {b} (a copy in this worker)", "io"
        return f"store {where} ← {b} (its copy + 1)", "io"
    if kind == T.EV_PEER_REFUSED:
        return _peer_refused(ch(a), b), "io"
    if kind == T.EV_CLOSED_KEPT:
        end = "write" if b & 1 else "read"
        return f"closed its own {end} end of {ch(a)} (fd {b >> 1}), kept since fork", "io"
    if kind == T.EV_DISPOSITION:
        what = DISPOSITIONS[b] if 0 <= b < len(DISPOSITIONS) else "?"
        return f"set {signal_name(a)} to {what} (sigaction)", "signal"
    if kind == T.EV_INTERRUPTED:
        return (f"read from {ch(a)} INTERRUPTED: EINTR #{b} (handler without "
                "SA_RESTART); reading again"), "io"
    if kind == T.EV_RESTARTED:
        return (f"read from {ch(a)} returned data; {b} handler run(s) during it, the kernel "
                "restarted it each time (SA_RESTART): no EINTR"), "io"
    if kind == T.EV_PAST_END:
        at, size = b >> 32, b & 0xFFFFFFFF
        return (f"touches byte {at} of {ch(a)}, past its end ({size} B now): no page "
                "behind it, the kernel sends SIGBUS"), "exit"
    if kind == T.EV_TRUNCATED:
        return f"truncated {ch(a)} to {b} B (ftruncate)", "io"
    if kind == T.EV_UNLINKED:
        return f"unlinked {ch(a)}: its name is gone from /dev/shm (shm_unlink)", "io"
    if kind == T.EV_READ_ARRAY:
        return f"read {ch(a)} (sum {b})", "io"
    if kind == T.EV_WAITED:
        return f"woke: {signal_name(a)} arrived", "signal"
    if kind == T.EV_BLOCK:
        return f"blocked {signal_name(a)}" + (f" (+{b - 1} more)" if b > 1 else ""), "signal"
    if kind == T.EV_FAILED:
        op, channel = b >> 20, b & 0xFFFFF
        name = ch(channel) if channel != 0xFFFFF else None
        return failure_text(a, op, name) + "; worker ends", "exit"
    if kind == T.EV_UNBLOCK:
        return f"unblocked {signal_name(a)}" + (f" (+{b - 1} more)" if b > 1 else ""), "signal"
    return f"event {kind} ({a}, {b})", "info"


def _element(index: int, shape: tuple[int, ...]) -> str:
    """[i], or [row, col] in a 2-D array."""
    if len(shape) == 2 and shape[1]:
        return f"[{index // shape[1]}, {index % shape[1]}]"
    return f"[{index}]"


def _rpc_event(kind: int, channel: str, number: int, detail: int) -> str:
    if kind == T.EV_CALL_ANSWERED:
        return f"call #{number} on {channel} answered in {_ms(detail)}"
    if kind == T.EV_CALL_TIMEOUT:
        again = ": sending the same call AGAIN" if detail & (1 << 20) else ""
        return f"call #{number} on {channel}: NO ANSWER in time (attempt {detail & 0xFFFFF}){again}"
    if kind == T.EV_CALL_RECONNECT:
        return f"call #{number} on {channel}: connection LOST (attempt {detail})"
    if kind == T.EV_CALL_GAVE_UP:
        return f"call #{number} on {channel}: GAVE UP after {detail} attempts"
    if kind == T.EV_EXECUTED_TWICE:
        return (f"EXECUTED TWICE: call #{number} on {channel} was done before "
                "(a retry of work already done)")
    return f"late answer to call #{number} on {channel} dropped (it was retried)"


def peer_code(uid: int | None, pid: int | None, datagram: bool) -> int:
    """EV_PEER_REFUSED's second value (see table.py)."""
    uid_bits = 0xFFFFFFFF if uid is None or not 0 <= uid < 0xFFFFFFFF else uid
    pid_bits = 0xFFFFFF if pid is None or not 0 < pid < 0xFFFFFF else pid
    return int(datagram) << 61 | uid_bits << 24 | pid_bits


def _peer_refused(channel: str, code: int) -> str:
    uid, pid = code >> 24 & 0xFFFFFFFF, code & 0xFFFFFF
    who = (f"uid {'?' if uid == 0xFFFFFFFF else uid} "
           f"pid {'?' if pid == 0xFFFFFF else pid}")
    if code >> 61 & 1:
        return f"dropped a datagram on {channel} from outside the run: {who}"
    return f"refused a connection on {channel} from outside the run: {who}"


def _ms(micros: int) -> str:
    return f"{micros / 1000:.1f} ms" if micros < 1_000_000 else f"{micros / 1e6:.2f} s"


def failure_text(error: int, op: int, channel: str | None) -> str:
    """Why a step ended its worker (T.FAILURE): "send to jobs failed: ENOSPC (No space
    left on device)", "spawn failed: fork() EAGAIN (Resource temporarily unavailable)"."""
    what = T.OP_NAMES.get(op, "step")
    if op == T.OP_SPAWN:
        what += " failed: fork()"
    elif channel is not None:
        what += f" {'to' if op in (T.OP_WRITE, T.OP_SEND) else 'on'} {channel} failed:"
    else:
        what += " failed:"
    return f"{what} {errno.errorcode.get(error, str(error))} ({os.strerror(error)})"


def row_failure(row: np.ndarray | None, channel_names: list[str]) -> str:
    if row is None or not row[T.FAILURE]:
        return ""
    channel = int(row[T.FAILURE_CHANNEL])
    return failure_text(int(row[T.FAILURE]), int(row[T.FAILURE_OP]),
                        channel_names[channel] if 0 <= channel < len(channel_names) else None)


def _row(row: int, row_names: list[str]) -> str:
    return row_names[row] if 0 <= row < len(row_names) and row_names[row] else f"row {row}"
