"""The headless summary (SCENARIO_FORMAT.md) from a final Snapshot, and `expect:` checks."""

from __future__ import annotations

import operator
from typing import Any

from ipcviz.scenario.validate import parse_comparison
from ipcviz.telemetry.snapshot import Snapshot

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
        ">": operator.gt, "<": operator.lt}

_WORKER_KEYS = ("pid", "state", "exit", "restarts", "zombies", "self_reads",
                "signals_received", "signals_sent", "signals_sent_to", "bytes_written",
                "bytes_read", "messages_sent", "messages_received", "epipe_errors")


def worker_entry(w: Any) -> dict[str, Any]:
    entry = {key: getattr(w, key) for key in _WORKER_KEYS}
    if w.blocked_on:
        entry["blocked_on"] = w.blocked_on
    entry["increments"] = w.increments
    entry["duplicates"] = w.duplicates
    if w.failure:
        entry["failure"] = w.failure
    return entry


_INTERNAL = ("initial_sum", "last_writer", "preview", "initial")


def channel_entry(c: Any) -> dict[str, Any]:
    entry = {"kind": c.kind, **{k: v for k, v in c.data.items() if k not in _INTERNAL}}
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
    }
    summary["expect"] = check_expectations(summary, expectations)
    summary["leaks"] = {"processes": leaks.get("processes", 0),
                        "ipc_objects": leaks.get("ipc_objects", 0)}
    return summary


def _compare(actual: Any, wanted: Any) -> bool:
    parsed = parse_comparison(wanted)
    if parsed is None:
        return False
    op, value = parsed
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if actual is None:
            actual = 0
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


def check_expectations(summary: dict[str, Any], expectations: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """One result per checked value: {"check": text, "ok": bool, "actual": value}."""
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
            actual = _element(values, exp["index"])
            results.append({"check": f"{subject}[{exp['index']}] == {exp['equals']}",
                            "ok": _compare(actual, exp["equals"]), "actual": actual})
            continue
        for key, wanted in exp.items():
            if key in ("worker", "channel"):
                continue
            checks = wanted.items() if isinstance(wanted, dict) else [(None, wanted)]
            for sub, want in checks:
                actuals = []
                for entry in entries or [{}]:
                    value = entry.get(key)
                    if sub is not None:
                        value = (value or {}).get(sub, 0)
                    actuals.append(value)
                if len(actuals) > 1 and all(isinstance(a, (int, float)) for a in actuals):
                    actual: Any = sum(actuals)  # a replica group: its members added up
                else:
                    actual = actuals[0]
                label = " ".join(x for x in (subject, key, sub) if x)
                results.append({"check": f"{label} {_describe(want)}",
                                "ok": _compare(actual, want), "actual": actual})
    return results


def _element(values: Any, index: Any) -> Any:
    try:
        for i in index if isinstance(index, list) else [index]:
            values = values[i]
        return values
    except (TypeError, IndexError, KeyError):
        return None
