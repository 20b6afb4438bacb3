"""Checks that need the whole scenario: references between workers, channels and steps."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from ipcviz.scenario import resources
from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import CHANNELS, STEPS
from ipcviz.signals import PARENT_SIGNALS, SIGRTMAX, SIGRTMIN, UNCATCHABLE, signal_name

from ipcviz.scenario.yamlpos import FieldPath

#: Keys the TUI binds itself; a trigger may not take them (the scrolling keys too: the
#: panels scroll with them).
BUILTIN_KEYS = frozenset(
    "t k i s c u R p ? q S l n N - +".split()
    + ["space", "minus", "plus", "ctrl+r", "up", "down", "left", "right", "enter", "escape", "tab", "ctrl+c", "question_mark",
       "pageup", "pagedown", "home", "end"]
)

PARENT_SIGNALS_TEXT = ", ".join(
    signal_name(n) for n in sorted(PARENT_SIGNALS) if not SIGRTMIN <= n <= SIGRTMAX
) + " and SIGRTMIN..SIGRTMAX"
CATCHING = frozenset({"count", "exit", "log", "reap"})

WORKER_KEYS = frozenset({
    "pid", "state", "blocked_on", "exit", "restarts", "zombies", "self_reads",
    "signals_received", "signals_sent", "signals_sent_to", "bytes_written", "bytes_read",
    "messages_sent", "messages_received", "epipe_errors", "increments", "duplicates",
})
CHANNEL_KEYS = frozenset({
    "kind", "bytes_written", "bytes_read", "buffered", "max_buffered", "capacity", "depth", "max_depth",
    "messages_sent", "messages_received", "dtype", "shape", "values", "increments",
    "lost_updates", "sum", "initial_sum", "value", "holder", "waiters", "duplicates", "path", "connections",
})
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_comparison(value: object) -> tuple[str, object] | None:
    """'>=1' -> ('>=', 1); 5 -> ('==', 5); 'SIGKILL' -> ('==', 'SIGKILL'); None if not a value."""
    if isinstance(value, bool) or value is None or isinstance(value, list):
        return ("==", value)
    if isinstance(value, (int, float)):
        return ("==", value)
    if isinstance(value, str):
        m = _COMPARISON.match(value)
        if m:
            number = float(m.group(2))
            return (m.group(1) or "==", int(number) if number.is_integer() else number)
        return ("==", value)
    return None


def instance_names(name: str, worker: s.Worker) -> list[str]:
    """The process names a worker definition starts: NAME, or NAME.0, NAME.1, ..."""
    if worker.count == 1:
        return [name]
    return [f"{name}.{i}" for i in range(worker.count)]


def check(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """Yield (path, message) for every cross-reference problem."""
    channels = scn.channels
    groups = {name: instance_names(name, w) for name, w in scn.workers.items()}
    targets = set(groups) | {n for names in groups.values() for n in names}
    total = sum(w.count for w in scn.workers.values())
    if total > s.MAX_WORKERS:
        yield (("workers",), f"{total} worker processes in all; the limit is {s.MAX_WORKERS}")
    if not scn.workers:
        yield (("workers",), "needs at least one worker")

    def channel_ref(path: FieldPath, name: str, step: str) -> Iterator[tuple[FieldPath, str]]:
        if name not in channels:
            known = ", ".join(channels) or "none defined"
            yield (path, f"unknown channel '{name}' (channels: {known})")
            return
        kind = channels[name].kind
        works_on = STEPS[step].channels
        if kind not in works_on:
            yield (path, f"'{step}' does not work on {kind} '{name}' "
                         f"(use {CHANNELS[kind].hint}; '{step}' is for {', '.join(works_on)})")

    def target_ref(path: FieldPath, name: str, allow_parent: bool) -> Iterator[tuple[FieldPath, str]]:
        if name in targets or (allow_parent and name == "parent"):
            return
        known = ", ".join(sorted(targets)) + (", parent" if allow_parent else "")
        yield (path, f"unknown worker '{name}' (workers: {known})")

    yield from resources.check_mqueue_limits(channels)
    yield from resources.descriptor_budget(channels)
    for cname, ch in channels.items():
        server_option = CHANNELS[ch.kind].server_option  # a socket's `server:`
        if server_option and getattr(ch, server_option) not in scn.workers:
            yield (("channels", cname, server_option),
                   f"unknown worker '{getattr(ch, server_option)}' "
                   f"(workers: {', '.join(scn.workers)})")
        if ch.kind == "shared_array":
            shape = ch.shape if isinstance(ch.shape, list) else [ch.shape]
            if len(shape) not in (1, 2):
                yield (("channels", cname, "shape"), f"{len(shape)} dimensions; use 1 or 2")
            size = 1
            for n in shape:
                size *= n
            if not _bad_shape(ch):
                yield from _check_init(cname, ch, size)
            if size > s.MAX_ARRAY_ELEMENTS:
                yield (("channels", cname, "shape"),
                       f"{size:,} elements; the limit is {s.MAX_ARRAY_ELEMENTS:,}")
            if isinstance(ch.init, list) and len(ch.init) != size:
                yield (("channels", cname, "init"),
                       f"{len(ch.init)} values for {size} elements")

    if "parent" in scn.workers:
        yield (("workers", "parent"), "the name 'parent' is reserved (`to: parent` means the "
                                      "runtime); call this worker something else")
    for wname, w in scn.workers.items():
        base = ("workers", wname)
        caught = {sig for sig, action in w.handlers.items() if action in CATCHING}
        for sig, action in w.handlers.items():
            if sig in UNCATCHABLE:
                yield (base + ("handlers", signal_name(sig)), f"{signal_name(sig)} cannot be caught, blocked "
                                                  "or ignored (that is the lesson)")
            if action == "reap" and signal_name(sig) != "SIGCHLD":
                yield (base + ("handlers", signal_name(sig)), "'reap' is a SIGCHLD handler")
        for i, sig in enumerate(w.block):
            if sig in UNCATCHABLE:
                yield (base + ("block", i), f"{signal_name(sig)} cannot be blocked")
        yield from _check_steps(
            w.steps, base + ("steps",), scn, caught, channel_ref, target_ref
        )

    for section in ("timeline", "triggers"):
        for i, event in enumerate(getattr(scn, section)):
            path = (section, i)
            action = event.action
            arg = getattr(event, action)
            if action == "signal":
                yield from target_ref(path + ("signal", "to"), arg.to, False)
            elif action == "lock":
                yield from target_ref(path + ("lock", "worker"), arg.worker, False)
            else:
                yield from target_ref(path + (action,), arg, False)

    seen_keys: dict[str, int] = {}
    for i, trig in enumerate(scn.triggers):
        if _unpressable(trig.key):
            yield (("triggers", i, "key"), f"key {trig.key!a} has control, format or space "
                                           "characters: no key press makes it, and the help "
                                           "screen would send them to the terminal")
        elif trig.key in BUILTIN_KEYS:
            yield (("triggers", i, "key"), f"key '{trig.key}' is built in "
                                           f"(taken: {' '.join(sorted(BUILTIN_KEYS))})")
        elif trig.key in seen_keys:
            yield (("triggers", i, "key"), f"key '{trig.key}' is already used by "
                                           f"triggers[{seen_keys[trig.key]}]")
        seen_keys.setdefault(trig.key, i)

    for i, exp in enumerate(scn.expect):
        yield from _check_expect(scn, groups, (("expect", i)), exp)

    yield from _check_time(scn, groups)


def _unpressable(key: str) -> bool:
    """A trigger key with characters no key press gives (ESC, NUL, a right-to-left
    override, spaces): it can only be there to write to the terminal."""
    import unicodedata

    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")
               for c in key)


SPEED_TEXT = "1, 0.5, 0.25, 0.125, 0.0625, 0.03125 or 0.015625"


def schedule_problems(entries: list[str], workers: dict[str, s.Worker]
                      ) -> Iterator[tuple[int, str]]:
    """(entry index, what is wrong) for each entry of a schedule that does not name one
    worker process the runtime starts (the CLI's --schedule is checked with this too)."""
    names = [n for g, w in workers.items() if not w.spawned for n in instance_names(g, w)]
    if len(entries) > s.MAX_SCHEDULE:
        yield (s.MAX_SCHEDULE, f"{len(entries)} entries; the limit is {s.MAX_SCHEDULE:,}")
        return
    for i, entry in enumerate(entries):
        if entry in names:
            continue
        worker = workers.get(entry)
        if worker is not None and worker.spawned:
            yield (i, f"'{entry}' is only started by `spawn`; a schedule names workers the "
                      "runtime starts")
        elif worker is not None:
            yield (i, f"'{entry}' has {worker.count} replicas; name one "
                      f"({', '.join(instance_names(entry, worker)[:3])}, ...)")
        else:
            yield (i, f"unknown worker '{entry}' (workers: {', '.join(names)})")


def _check_time(scn: s.Scenario, groups: dict[str, list[str]]) -> Iterator[tuple[FieldPath, str]]:
    """`schedule` names real worker processes; `speed` is one of the speeds."""
    if scn.speed not in {1 / 2 ** k for k in range(7)}:
        yield (("speed",), f"{scn.speed} is not a speed (use {SPEED_TEXT})")
    if scn.schedule is None:
        return
    as_list = isinstance(scn.schedule, list)
    entries = scn.schedule if as_list else scn.schedule.replace(",", " ").split()
    if not entries:
        yield (("schedule",), "is empty; name at least one worker (or leave it out)")
    for i, problem in schedule_problems(entries, scn.workers):
        yield (("schedule", i) if as_list else ("schedule",),
               problem if as_list else f"entry {i}: {problem}")


def _check_steps(steps, base, scn, caught, channel_ref, target_ref):
    for j, step in enumerate(steps):
        path = base + (j,)
        kind = step.kind
        arg = step.args
        here = path + (kind,)
        for use, name in STEPS[kind].channel_names(arg):  # the channels it names
            if use.checked_as is not None:
                where = here if use.field is None else here + (use.field.rstrip("_"),)
                yield from channel_ref(where, name, use.checked_as or kind)
        if kind == "send":
            yield from _check_send(scn, arg, here)
        elif kind in ("increment", "set"):
            yield from _check_index(scn, arg, here, kind)
        elif kind == "signal":
            yield from target_ref(here + ("to",), arg.to, True)
            if arg.to == "parent" and arg.sig not in PARENT_SIGNALS:
                yield (here + ("sig",), f"{signal_name(arg.sig)} would stop or end the runtime; "
                                        f"parent accepts {PARENT_SIGNALS_TEXT}")
        elif kind == "wait_signal":
            if arg not in caught:
                yield (here, f"waits for {signal_name(arg)}, but the worker's handlers do not "
                             f"catch it (add `{signal_name(arg)}: count` to handlers)")
        elif kind in ("block", "unblock"):
            for k, sig in enumerate(arg):
                if sig in UNCATCHABLE:
                    yield (here + (k,), f"{signal_name(sig)} cannot be blocked")
        elif kind == "spawn":
            if arg not in scn.workers:
                yield (here, f"unknown worker '{arg}' (workers: {', '.join(scn.workers)})")
            elif not scn.workers[arg].spawned:
                yield (here, f"worker '{arg}' is started by the runtime; "
                             f"give it `spawned: true` to spawn it")
        elif kind == "repeat":
            yield from _check_steps(arg.steps, here + ("steps",), scn, caught, channel_ref,
                                    target_ref)


def _bad_shape(ch) -> bool:
    """A shape already reported (0 or 3+ dimensions, too many elements): checks that
    depend on it (indices, init) stay quiet rather than repeat the problem."""
    shape = ch.shape if isinstance(ch.shape, list) else [ch.shape]
    return len(shape) not in (1, 2) or math.prod(shape) > s.MAX_ARRAY_ELEMENTS


def dtype_problem(dtype: str, value: float) -> str | None:
    """Why `value` cannot be stored in an array of `dtype` exactly, or None if it can."""
    import numpy as np

    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)  # say 300, not 300.0
    if dtype.startswith(("int", "uint")):
        if isinstance(value, float) and not value.is_integer():
            return f"{value!r} has a fraction; {dtype} holds whole numbers"
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            return f"{value!r} does not fit in {dtype} ({info.min}..{info.max})"
        return None
    limit = float(np.finfo(dtype).max)
    if not -limit <= value <= limit:
        return f"{value!r} does not fit in {dtype} (largest {limit:.6g})"
    return None


def _check_init(cname: str, ch, size: int) -> Iterator[tuple[FieldPath, str]]:
    """`init:` numbers (and arange's last one) must fit the array's dtype."""
    path = ("channels", cname, "init")
    if ch.init == "arange" and size > 1:
        problem = dtype_problem(ch.dtype, size - 1)
        if problem:
            yield (path, f"arange counts to {size - 1}, which {problem.split(' ', 1)[1]}")
    elif isinstance(ch.init, list):
        for k, value in enumerate(ch.init):
            problem = dtype_problem(ch.dtype, value)
            if problem:
                yield (path + (k,), problem)
                return
    elif not isinstance(ch.init, str):
        problem = dtype_problem(ch.dtype, ch.init)
        if problem:
            yield (path, problem)


def _check_send(scn, arg, here):
    from ipcviz.channels.message import HEADER_SIZE

    ch = scn.channels.get(arg.to)
    if arg.ack is not None:
        if arg.ack not in scn.channels or scn.channels[arg.ack].kind not in ("mqueue", "queue"):
            yield (here + ("ack",), f"ack needs an mqueue or queue channel, not '{arg.ack}'")
    if ch is None:
        return
    size = len(arg.payload_bytes())
    if ch.kind == "mqueue" and size + HEADER_SIZE > ch.message_size:
        yield (here, f"a {size}-byte message (+{HEADER_SIZE} header) does not fit "
                     f"message_size {ch.message_size} of '{arg.to}'")
    if ch.kind == "queue" and ch.capacity == 0 and not arg.block:
        yield (here + ("block",), "a rendezvous queue (capacity 0) always waits for the "
                                  "receiver; block: false is not possible on it")


def _check_index(scn, arg, here, kind):
    ch = scn.channels.get(arg.array)
    if ch is None or ch.kind != "shared_array":
        return
    shape = ch.shape if isinstance(ch.shape, list) else [ch.shape]
    if kind == "set":
        problem = dtype_problem(ch.dtype, arg.value)
        if problem:
            yield (here + ("value",), problem)
    if arg.index is None or _bad_shape(ch):
        return
    index = arg.index if isinstance(arg.index, list) else [arg.index]
    if len(index) != len(shape):
        yield (here + ("index",), f"{len(index)} indices for a {len(shape)}-D array {shape}")
        return
    for k, (i, n) in enumerate(zip(index, shape)):
        if not 0 <= i < n:
            yield (here + ("index",), f"index {i} is out of range 0..{n - 1} (dimension {k})")


def _is_number(value: object) -> bool:
    """An int or a finite float, and not a bool (YAML `true` is not the number 1)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _comparable(value: object) -> bool:
    """A value an expectation may compare with: a finite number, a comparison string, a
    bool or null (e.g. `exit: null`), or a list of those (array `values`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, list):
        return all(_is_number(v) or isinstance(v, str) for v in value)
    if isinstance(value, str):
        m = _COMPARISON.match(value)
        return m is None or math.isfinite(float(m.group(2)))
    return parse_comparison(value) is not None


def _check_expect(scn, groups, path, exp):
    if not isinstance(exp, dict):
        yield (path, "an expectation is a mapping like {worker: NAME, KEY: VALUE}")
        return
    subject = [k for k in ("worker", "channel") if k in exp]
    if len(subject) != 1:
        yield (path, "needs exactly one of 'worker' or 'channel'")
        return
    what = subject[0]
    name = exp[what]
    rest = {k: v for k, v in exp.items() if k != what}
    if not isinstance(name, str):
        yield (path + (what,), f"expected a {what} name, got {_shown(name)}")
        return
    if what == "worker":
        base = name.split("#")[0]
        known = set(groups) | {n for names in groups.values() for n in names}
        if name not in known and base not in scn.workers:
            yield (path + ("worker",), f"unknown worker '{name}' (workers: {', '.join(sorted(known))})")
        keys = WORKER_KEYS
    else:
        if name not in scn.channels:
            yield (path + ("channel",), f"unknown channel '{name}' "
                                        f"(channels: {', '.join(scn.channels) or 'none'})")
        keys = CHANNEL_KEYS | {"index", "equals"}
        if ("index" in rest) != ("equals" in rest):
            yield (path, "'index' and 'equals' go together")
    if not rest:
        yield (path, f"says nothing to check (add a KEY: VALUE, e.g. {sorted(keys)[0]}: 1)")
    for key, value in rest.items():
        if key not in keys:
            yield (path + (key,), f"unknown key '{key}' (keys: {', '.join(sorted(keys))})")
            continue
        if key == "index":
            yield from _check_expect_index(scn.channels.get(name), path + (key,), value)
            continue
        if key == "equals":
            if not _is_number(value):
                yield (path + (key,), f"expected a number, got {_shown(value)}")
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                if not _comparable(v) or isinstance(v, (dict, list)):
                    yield (path + (key, sub), f"cannot compare with {_shown(v)} (use a number "
                                              "or a string like '>=1')")
        elif not _comparable(value):
            yield (path + (key,), f"cannot compare with {_shown(value)} (use a number or a "
                                  "string like '>=1')")


def _shown(value: object) -> str:
    """A value as the file wrote it, shortened for one line of output."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_expect_index(ch, path, value):
    """`index:` of an array expectation: an int or [row, col], inside the array's shape."""
    if ch is None:
        return
    if ch.kind != "shared_array":
        yield (path, f"'index' is for shared_array channels; this one is a {ch.kind}")
        return
    if _bad_shape(ch):
        return
    shape = ch.shape if isinstance(ch.shape, list) else [ch.shape]
    index = value if isinstance(value, list) else [value]
    if not index or not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
        yield (path, f"expected an integer or a list of integers, got {_shown(value)}")
        return
    if len(index) != len(shape):
        yield (path, f"{len(index)} indices for a {len(shape)}-D array {shape}")
        return
    for k, (i, n) in enumerate(zip(index, shape)):
        if not 0 <= i < n:
            yield (path, f"index {i} is out of range 0..{n - 1} (dimension {k})")
            return
