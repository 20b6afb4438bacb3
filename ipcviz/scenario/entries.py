"""What each entry of the headless summary holds, worked out from the scenario alone: the
keys of a worker's entry (a worker with steps, or one that runs a program) and of a
channel's entry (by its kind), and which keys hold a mapping whose items are channels or
signals.

An `expect:` item or a question's `answer:` naming something its entry does not have
passes vacuously (a per-channel count of a channel the worker never uses is 0) or grades
every answer wrong (a depth on a pipe has no value): the loader refuses it and lists
what the entry has. tests/test_summary_entries.py binds these sets to a real run's
summary.
"""

from __future__ import annotations

import re

from ipcviz.channels.state_keys import data_types
from ipcviz.channels.wire import NUMBER, Either
from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import CHANNELS, state_class
from ipcviz.scenario.refs import (
    CHANNEL_KIND_KEYS, COMPARE_KEYS, DATAGRAM_KEYS, EINTR_KEYS, STREAM_SOCKET_KEYS,
    SYSCALL_KEYS, TCP_KEYS, WORKER_KEYS,
)
from ipcviz.signals import parse_signal, signal_name

#: a worker's counts per channel, and the counter families (kinds.ChannelKind.counters)
#: of the channels they are kept for (runtime/worker_views.py)
PER_CHANNEL = {"bytes_written": ("bytes",), "bytes_read": ("bytes", "array"),
               "messages_sent": ("messages",), "messages_received": ("messages",),
               "increments": ("array",)}
#: a worker's counts per signal, keyed by the signal's name as `kill -l` prints it
PER_SIGNAL = frozenset({"signals_received", "signals_sent", "signals_sent_to"})
#: what is known of a worker that runs a program (telemetry/summary.py): no step counters
#: a channel's entries kept per process that used it (a page's values_read)
PER_WORKER = frozenset({"values_read"})
PROGRAM_KEYS = frozenset({"pid", "state", "blocked_on", "exit", "restarts", "zombies",
                          "signals_sent_to"})

#: keys of a kind's entry that hold a mapping, and the names of their items
#: (kinds.ChannelKind.item_names: a System V queue's counts by message type)
KIND_ITEMS: dict[str, tuple[str, ...]] = {
    key: names for row in CHANNELS.values() for key, names in (row.item_names or {}).items()}
#: an array bigger than this has `values` as {min, max, sum} (channels/shared_array.py)
MAX_VALUES_LISTED = 4096


def definition_of(scn: s.Scenario, name: str) -> s.Worker | None:
    """The worker definition behind a worker, replica (`w.1`) or spawned child (`w#2`)."""
    return scn.workers.get(re.split(r"[.#]", name)[0])


def worker_keys(worker: s.Worker) -> frozenset[str]:
    """The keys a check may name in this worker's entry."""
    if worker.runs_program:
        traced = {"signals_received", "bytes_written", "bytes_read"}
        return PROGRAM_KEYS | {"output_lines"} | (traced if worker.trace else set())
    return WORKER_KEYS - {"output_lines"}  # (the lines a program printed)


def channel_keys(scn: s.Scenario, name: str) -> frozenset[str]:
    """The keys a check may name in this channel's entry (`kind` too)."""
    spec = scn.channels[name]
    keys = CHANNEL_KIND_KEYS[spec.kind] | {"kind"}
    if spec.kind == "socket":
        datagrams = spec.family == "udp" or spec.type == "dgram"
        keys |= DATAGRAM_KEYS if datagrams else STREAM_SOCKET_KEYS
        if spec.family == "tcp":
            keys |= TCP_KEYS
    if spec.kind in ("pipe", "fifo") and any(
            step.kind == "read" and step.args.from_ == name and step.args.interruptible
            for worker in scn.workers.values() for step in s.all_steps(worker.steps)):
        keys |= EINTR_KEYS
    if name in scn.compare:
        keys |= COMPARE_KEYS | (SYSCALL_KEYS if scn.count_syscalls else frozenset())
    return keys


def holds_mapping(scn: s.Scenario, what: str, name: str, key: str) -> bool:
    """The entry's `key` is a mapping (per channel, per signal, a big array's values)."""
    if what == "worker":
        return key in PER_CHANNEL or key in PER_SIGNAL
    spec = scn.channels.get(name)
    if key in PER_WORKER:
        return True
    if spec is not None and key in (CHANNELS[spec.kind].item_names or {}):
        return True
    if key != "values" or spec is None or spec.kind != "shared_array":
        return False
    shape = spec.shape if isinstance(spec.shape, list) else [spec.shape]
    size = 1
    for n in shape:
        size *= n
    return size > MAX_VALUES_LISTED


def mapping_items(key: str) -> str:
    """What the items of a mapping key are, for a line saying what to write."""
    if key in PER_SIGNAL:
        return "signal names, e.g. {SIGUSR1: 1}"
    if key in PER_CHANNEL:
        return "channel names, e.g. {CHANNEL: 1}"
    if key in PER_WORKER:
        return "process names, e.g. {WORKER: TEXT}"
    if key in KIND_ITEMS:
        names = KIND_ITEMS[key]
        return f"{', '.join(names)} (as text), e.g. {{\"{names[0]}\": 1}}"
    return "min, max, sum"


def item_problem(scn: s.Scenario, what: str, key: str, item: object) -> str | None:
    """Why `item` names nothing in the mapping `key` of an entry, or None."""
    if not isinstance(item, str):
        return f"expected {mapping_items(key)}, got {item!r}"
    if what == "channel" and key in KIND_ITEMS:
        return None if item in KIND_ITEMS[key] else \
            f"'{item}' is not an item of {key} ({', '.join(KIND_ITEMS[key])})"
    if what == "channel" and key in PER_WORKER:  # a process that may have used it
        if definition_of(scn, item) is None:
            return (f"unknown worker '{item}': {key} is kept per process (workers: "
                    f"{', '.join(scn.workers)}; a spawned child is NAME#N)")
        return None
    if what == "channel":  # a big array's values
        return None if item in ("min", "max", "sum") else \
            f"'{item}' is not in values (min, max, sum)"
    if key in PER_SIGNAL:
        try:
            number = parse_signal(item)
        except (ValueError, TypeError):
            return f"'{item}' is not a signal (write names as kill -l does: SIGUSR1)"
        if signal_name(number) != item:
            return f"the summary names this signal {signal_name(number)}: write that"
        return None
    families = PER_CHANNEL[key]
    fitting = [n for n, ch in scn.channels.items() if CHANNELS[ch.kind].counters in families]
    spec = scn.channels.get(item)
    if spec is None or CHANNELS[spec.kind].counters not in families:
        what_it_is = "unknown channel" if spec is None else f"{spec.kind}"
        return (f"{what_it_is} '{item}': a worker's {key} counts "
                f"{'/'.join(_kinds(families))} channels "
                f"(here: {', '.join(fitting) or 'none'})")
    return None


def _kinds(families: tuple[str, ...]) -> list[str]:
    return [kind for kind, info in CHANNELS.items() if info.counters in families]


#: the states a worker's entry can say (runtime/worker_views.py)
STATES = ("starting", "running", "sleeping", "blocked", "stopped", "zombie", "exited",
          "held")


def value_problem(scn: s.Scenario, what: str, name: str, key: str,
                  wanted: object) -> str | None:
    """Why an `expect:` value can never be what the entry holds (a state that is none, an
    exit status past 255, another kind or dtype than the channel's), or None."""
    from ipcviz.scenario.refs import parse_comparison

    parsed = parse_comparison(wanted)
    if parsed is None or parsed[0] not in ("==", "!="):
        return None
    value = parsed[1]
    if what == "worker" and key == "state":
        if value not in STATES:
            return f"{value!r} is not a state (states: {', '.join(STATES)})"
    elif what == "worker" and key == "exit":
        definition = definition_of(scn, name)
        if isinstance(value, bool) or definition is None or definition.attach is not None:
            return None
        if isinstance(value, int) and not 0 <= value <= 255:
            return f"{value} is not an exit status (0 to 255, or the signal that ended it)"
        if isinstance(value, str):
            try:
                named = signal_name(parse_signal(value))
            except (ValueError, TypeError):
                return (f"{value!r} is neither an exit status nor a signal (e.g. 0, "
                        "SIGKILL)")
            if named != value:
                return f"the summary names this signal {named}: write that"
    elif what == "channel" and key == "holder" and isinstance(value, str):
        holder = value.removesuffix(" (dead)")
        definition = definition_of(scn, holder)
        if definition is None or definition.runs_program:
            return (f"{holder!r} is no worker with steps: a holder is one (its name, "
                    "'NAME (dead)'), or null")
    elif what == "channel" and key in ("kind", "dtype") and name in scn.channels:
        actual = getattr(scn.channels[name], key)
        if value != actual:
            return (f"can never be {'equal' if parsed[0] == '==' else 'different'}: "
                    f"'{name}' has {key} {actual}")
    return None


def _numeric(json_type: object) -> bool:
    """A key of this JSON type holds a number (or null, not known yet)."""
    if isinstance(json_type, Either):
        return all(_numeric(option) or option is type(None) for option in json_type.options)
    return json_type is int or json_type is NUMBER


#: keys whose value is not always a number (the rest are counts, sizes and rates): a
#: worker's state, what it waits in and its exit; a channel's kind, and every key of a
#: kind whose type is no number in some kind's data (channels/state_keys.py)
NOT_NUMBERS = frozenset({"state", "blocked_on", "exit", "kind"}) | {
    key for kind, row in CHANNELS.items()
    for key, json_type in data_types(state_class(kind), row.data).items()
    if not _numeric(json_type)}


def choices_problem(key: str, item: object, choices: list[str]) -> str | None:
    """Why a question's choices cannot grade its answer: two the same (the student's
    text matches the first, in any case), or none a number where the value is one."""
    seen: set[str] = set()
    for choice in choices:
        if choice.strip().lower() in seen:
            return f"choice {choice!r} is given twice"
        seen.add(choice.strip().lower())
    numeric = key not in PER_WORKER and (isinstance(item, str) or key not in NOT_NUMBERS)
    if numeric and not any(_is_number_text(c) for c in choices):
        return (f"the true value of '{key}' is a number and no choice is one: every answer "
                "would be wrong (give numbers, or no choices)")
    return None


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
