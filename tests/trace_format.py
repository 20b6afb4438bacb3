"""A checker of Chrome Trace Event JSON, the format Perfetto and chrome://tracing read:
what `ipcviz export` writes must pass it. It checks what a viewer relies on: each event's
fields and their types, "B"/"E" pairs matched on their own track in time order, "X"
slices on a track nested properly (two slices either apart or one inside the other),
flows whose every id has one start and one finish, later than or at the start, each end
inside a slice of its own track (what the binding point "e" binds to), numeric counters,
and a name for every track used."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

PHASES = {"B", "E", "X", "i", "I", "s", "t", "f", "C", "M"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def trace_problems(trace: Any) -> list[str]:
    """Every way `trace` breaks the format, one line each; [] when it is a valid trace."""
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not an object with a traceEvents list"]
    problems: list[str] = []
    slices: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    begun: dict[tuple[int, int], list[dict]] = defaultdict(list)
    flows: dict[tuple[str, Any], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    named: set[tuple[int, int]] = set()
    used: set[tuple[int, int]] = set()
    timed = []
    for n, event in enumerate(trace["traceEvents"]):
        where = f"event {n}"
        if not isinstance(event, dict):
            problems.append(f"{where}: not an object")
            continue
        ph = event.get("ph")
        if ph not in PHASES:
            problems.append(f"{where}: phase {ph!r} unknown")
            continue
        if not isinstance(event.get("name"), str):
            problems.append(f"{where}: no name")
        if not (isinstance(event.get("pid"), int) and isinstance(event.get("tid"), int)):
            problems.append(f"{where}: pid and tid should be whole numbers")
            continue
        track = (event["pid"], event["tid"])
        if ph == "M":
            if event["name"] == "thread_name":
                named.add(track)
            continue
        if not _number(event.get("ts")) or event["ts"] < 0:
            problems.append(f"{where}: ts should be a number >= 0")
            continue
        if ph != "C":
            used.add(track)
        if ph == "X":
            if not _number(event.get("dur")) or event["dur"] < 0:
                problems.append(f"{where}: an X slice needs dur >= 0")
                continue
            slices[track].append((event["ts"], event["ts"] + event["dur"]))
        elif ph in ("B", "E"):
            timed.append(event)
        elif ph in ("s", "t", "f"):
            if "id" not in event:
                problems.append(f"{where}: a flow event needs an id")
                continue
            flows[(event.get("cat", ""), event["id"])][ph].append(event)
        elif ph == "C":
            args = event.get("args")
            if not isinstance(args, dict) or not args or not all(map(_number, args.values())):
                problems.append(f"{where}: a counter's args should be numbers")
        elif ph in ("i", "I") and event.get("s", "t") not in ("g", "p", "t"):
            problems.append(f"{where}: instant scope {event.get('s')!r} unknown")
    for event in sorted(timed, key=lambda e: e["ts"]):  # stable: file order at equal times
        track = (event["pid"], event["tid"])
        if event["ph"] == "B":
            begun[track].append(event)
        elif not begun[track]:
            problems.append(f"E at {event['ts']} on track {track} ends nothing begun")
        else:
            start = begun[track].pop()
            slices[track].append((start["ts"], event["ts"]))
    for track, left in begun.items():
        if left:
            problems.append(f"{len(left)} B on track {track} never ended")
    for track, spans in slices.items():
        problems += _nesting_problems(track, spans)
    for key, ends in flows.items():
        if len(ends["s"]) != 1 or len(ends["f"]) != 1:
            problems.append(f"flow {key}: {len(ends['s'])} start(s) and {len(ends['f'])} "
                            "finish(es), not one of each")
            continue
        start, finish = ends["s"][0], ends["f"][0]
        if finish["ts"] < start["ts"]:
            problems.append(f"flow {key}: finishes before it starts")
        if finish.get("bp") != "e":
            problems.append(f"flow {key}: its finish does not bind to the enclosing slice")
        for end in (start, finish):
            track = (end["pid"], end["tid"])
            if not any(a < end["ts"] < b for a, b in slices.get(track, ())):
                problems.append(f"flow {key}: its {end['ph']} at {end['ts']} is inside no "
                                f"slice of track {track}")
    for track in sorted(used - named):
        problems.append(f"track {track} has no thread_name")
    return problems


def _nesting_problems(track: tuple[int, int], spans: list[tuple[float, float]]) -> list[str]:
    """Slices that overlap without one holding the other."""
    open_: list[tuple[float, float]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        while open_ and open_[-1][1] <= start:
            open_.pop()
        if open_ and end > open_[-1][1]:
            return [f"track {track}: slice {start}-{end} overlaps {open_[-1]} without "
                    "nesting"]
        open_.append((start, end))
    return []
