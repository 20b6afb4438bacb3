"""The headless summary (docs/scenario-format.md) from a final Snapshot, and `expect:` checks."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ipcviz.channels.memory_state import ArrayState
from ipcviz.scenario.refs import parse_comparison
from ipcviz.telemetry.snapshot import Snapshot

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt}

_WORKER_KEYS = ("pid", "state", "exit", "restarts", "zombies", "self_reads",
                "signals_received", "signals_sent", "signals_sent_to", "bytes_written",
                "bytes_read", "messages_sent", "messages_received", "epipe_errors")


#: what is known of a worker that runs a program: the kernel's view, not step counters
_PROGRAM_KEYS = ("pid", "state", "exit", "restarts", "zombies", "signals_sent_to")


def worker_entry(w: Any) -> dict[str, Any]:
    if getattr(w, "program", None) is not None:
        entry = {key: getattr(w, key) for key in _PROGRAM_KEYS}
        if w.blocked_on:
            entry["blocked_on"] = w.blocked_on
        entry["program"] = dict(w.program)
        entry["output_lines"] = w.program.get("output_lines", 0)
        if w.program.get("trace"):  # only strace knows what a program received (its own
            entry["signals_received"] = dict(w.signals_received)  # process; the tree's
            # deliveries are in program.trace)
            moved = w.program.get("channel_bytes", {})  # and what it moved, by channel
            entry["bytes_written"] = {c: n[0] for c, n in moved.items() if n[0]}
            entry["bytes_read"] = {c: n[1] for c, n in moved.items() if n[1]}
        return entry
    entry = {key: getattr(w, key) for key in _WORKER_KEYS}
    if w.blocked_on:
        entry["blocked_on"] = w.blocked_on
    entry["increments"] = w.increments
    entry["duplicates"] = w.duplicates
    if w.failure:
        entry["failure"] = w.failure
    return entry


#: channel data the UI needs that the summary leaves out (`elements`: the array elements
#: `expect` checks, kept for the checker when the array is too big for `values`)
_INTERNAL = ("last_writer", "preview", "initial", "elements", "window", "window_at")


def channel_entry(c: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": c.kind}
    for key, value in c.state.to_dict().items():
        if key == "holders":  # as the summary has always said: "holder", "b (dead)"
            names = [h.name if h.alive else f"{h.name} (dead)" for h in value]
            entry["holder"] = names[0] if names else None
            entry["holders"] = names
        elif key not in _INTERNAL:
            entry[key] = value
    return entry


def build_summary(snap: Snapshot, duration: float, leaks: dict[str, Any],
                  expectations: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON object `ipcviz run --headless --json` prints."""
    summary: dict[str, Any] = {
        "scenario": snap.scenario,
        "duration_s": round(duration, 2),
        "workers": {w.name: worker_entry(w) for w in snap.workers},
        "channels": {c.name: channel_entry(c) for c in snap.channels},
        "deadlock": list(snap.deadlock or snap.deadlock_seen or []) or None,
        "deadlock_at": snap.deadlock_at,
        "parent": {"signals_received": dict(snap.parent_signals.get("signals_received", {})),
                   "signals_sent_to": dict(snap.parent_signals.get("signals_sent_to", {}))},
    }
    elements = {c.name: (c.state.elements or []) if isinstance(c.state, ArrayState) else []
                for c in snap.channels}
    summary["expect"] = check_expectations(summary, expectations, elements)
    summary["leaks"] = {"processes": leaks.get("processes", 0),
                        "ipc_objects": leaks.get("ipc_objects", 0)}
    if leaks.get("program_objects"):  # a watched program's own, not ipcviz's
        summary["leaks"]["program_objects"] = list(leaks["program_objects"])
    return summary


#: worker keys that describe one process, not a count: a group matches when every member does
_PER_PROCESS = frozenset({"pid", "state", "exit", "blocked_on"})
#: a key the entry does not have (a depth on a pipe): no value, so every check of it fails
#: (a counter inside a per-channel or per-signal mapping that never started is 0)
_ABSENT = object()


def _compare(actual: Any, wanted: Any) -> bool:
    parsed = parse_comparison(wanted)
    if parsed is None:
        return False
    op, value = parsed
    if actual is _ABSENT:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # a null value (a worker still running has no `exit`; `lost_updates` that cannot
        # be known) is not 0 and fails every numeric comparison
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return False
    elif op not in ("==", "!="):
        return False
    try:
        return bool(_OPS[op](actual, value))
    except TypeError:
        return False


def _describe(wanted: Any) -> str:
    if isinstance(wanted, str) and wanted[:1] in "<>=!":
        return wanted
    return f"== {wanted}"


def check_expectations(summary: dict[str, Any], expectations: list[dict[str, Any]],
                       elements: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    """One result per checked value: {"check": text, "ok": bool, "actual": value}.

    `elements` holds, per array too big for `values` in the summary, [index, value] pairs
    read from the real array for the `index` checks."""
    results = []
    for exp in expectations:
        if "worker" in exp:
            subject = str(exp["worker"])
            entries = [v for k, v in summary["workers"].items()
                       if k == subject or k.split(".")[0] == subject and subject not in
                       summary["workers"]]
        else:
            subject = str(exp["channel"])
            entries = [summary["channels"].get(subject, {})]
        if "index" in exp:
            values = entries[0].get("values") if entries else None
            if isinstance(values, list):
                element = _element(values, exp["index"])
            else:  # a big array: the element read from the array itself, if it was
                element = next((v for i, v in (elements or {}).get(subject, [])
                                if i == exp["index"]), None)
            results.append({"check": f"{subject}[{exp['index']}] == {exp['equals']}",
                            "ok": _compare(element, exp["equals"]), "actual": element})
            continue
        for key, wanted in exp.items():
            if key in ("worker", "channel"):
                continue
            checks = wanted.items() if isinstance(wanted, dict) else [(None, wanted)]
            for sub, want in checks:
                actuals = []
                for entry in entries or [{}]:
                    value = entry.get(key, None if key == "blocked_on" else _ABSENT)
                    if sub is not None:
                        value = (value if isinstance(value, dict) else {}).get(sub, 0)
                    actuals.append(value)
                if len(actuals) > 1 and key in _PER_PROCESS:
                    actual: Any = actuals  # a replica group: each member must match
                    ok = all(_compare(a, want) for a in actuals)
                elif len(actuals) > 1 and all(isinstance(a, (int, float)) for a in actuals):
                    actual = sum(actuals)  # a replica group: its members' counters added up
                    ok = _compare(actual, want)
                else:
                    actual = actuals[0]
                    ok = _compare(actual, want)
                label = " ".join(x for x in (subject, key, sub) if x)
                result = {"check": f"{label} {_describe(want)}", "ok": ok,
                          "actual": None if actual is _ABSENT else actual}
                why = _unmeasured(entries, actual)
                if why:
                    result["unmeasured"] = why
                results.append(result)
    return results


def _unmeasured(entries: list[dict[str, Any]], actual: Any) -> str | None:
    """Why a checked value is absent, when its entry says this machine cannot measure
    it (a `..._unavailable` reason, e.g. system calls not countable without root); the
    check still fails, with the reason instead of a bare missing value."""
    if actual is not _ABSENT:
        return None
    for entry in entries:
        for key, value in entry.items():
            if key.endswith("_unavailable") and isinstance(value, str) and value:
                return value
    return None


def _element(values: Any, index: Any) -> Any:
    try:
        for i in index if isinstance(index, list) else [index]:
            values = values[i]
        return values
    except (TypeError, IndexError, KeyError):
        return None
