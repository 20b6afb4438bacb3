"""A lesson's result line: the scenario's `result:` template, e.g.
"increments {channel.counter.increments} -> counter {channel.counter.sum}", filled in
with the run's own values on every frame (the names `expect:` and questions use).

A field is `{worker.NAME.KEY}` or `{channel.NAME.KEY}`, with an optional `.ITEM` for a
per-signal or per-channel count (`{worker.standard.signals_received.SIGUSR1}`); NAME is
a process (`adder.0`, `handler#1`) or a group, whose numbers are added up. `{{` and
`}}` are literal braces. Only values come from the frame: the words are the author's,
so a template should say numbers, not claims a frame may not bear out.

Kept free of pydantic and Textual: the UI renders it every frame, the loader checks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from ipcviz.scenario.refs import CHANNEL_KEYS, WORKER_KEYS

__all__ = ["Field", "fields", "render", "template_problems"]

#: a field between braces; `{{` and `}}` are escapes, not fields
_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
#: keys whose value is a mapping of channel names to counts
_PER_CHANNEL = frozenset({"bytes_written", "bytes_read", "messages_sent",
                          "messages_received", "increments"})
#: keys whose value is a mapping of signal names to counts
_PER_SIGNAL = frozenset({"signals_received", "signals_sent", "signals_sent_to"})
#: a channel's keys whose value is a mapping of process names (a page's values_read)
_PER_PROCESS = frozenset({"values_read"})
#: what a value the frame does not have (yet) shows as
ABSENT = "–"


class Field(NamedTuple):
    """One field of a template."""

    what: str
    """"worker" or "channel"."""
    name: str
    key: str
    item: str | None


class _Problem(NamedTuple):
    """What a piece of the template that cannot be read is."""

    text: str


def _split(body: str, known: Callable[[str], bool] | None = None) -> Field | _Problem:
    """`worker.adder.0.increments.counter` as a Field, or why it is not one. A process
    name may hold a dot (`adder.0`): the longest known name wins, else a dot followed by
    digits is taken as part of the name."""
    parts = body.strip().split(".")
    if len(parts) < 3 or parts[0] not in ("worker", "channel"):
        return _Problem(f"{{{body}}} is not a field: write {{worker.NAME.KEY}} or "
                "{channel.NAME.KEY} (with .ITEM for a per-signal or per-channel count)")
    what, rest = parts[0], parts[1:]
    cut = 1
    if what == "worker" and len(rest) >= 3 and rest[1].isdigit():
        cut = 2
    if known is not None:
        for n in range(len(rest) - 1, 0, -1):
            if known(".".join(rest[:n])):
                cut = n
                break
    name, tail = ".".join(rest[:cut]), rest[cut:]
    if not tail or len(tail) > 2:
        return _Problem(f"{{{body}}}: name one KEY (and at most one ITEM) after "
                        f"'{what}.{name}'")
    return Field(what, name, tail[0], tail[1] if len(tail) == 2 else None)


def _pieces(template: str, known: Callable[[str], bool] | None = None
            ) -> Iterator[str | Field | _Problem]:
    """Literal text, Fields, and _Problems for what cannot be read."""
    at = 0
    for match in _PIECE.finditer(template):
        if match.start() > at:
            yield template[at:match.start()]
        at = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            yield token[0]
        elif token in ("{", "}"):
            yield _Problem(f"an unmatched '{token}' (write '{token}{token}' for the brace "
                           "itself)")
        else:
            yield _split(match.group(1), known)
    if at < len(template):
        yield template[at:]


def fields(template: str) -> list[Field]:
    """The fields a template names, in order."""
    return [p for p in _pieces(template) if isinstance(p, Field)]


def template_problems(template: str, workers: Mapping[str, list[str]],
                      channels: Mapping[str, str]) -> list[str]:
    """Why `template` cannot be filled in from this scenario's runs, one line each.
    `workers` maps each group to its process names; `channels` each channel to its kind."""
    processes = {n for names in workers.values() for n in names}

    def known(name: str) -> bool:
        return name in processes or name in workers or name in channels

    problems = []
    for piece in _pieces(template, known):
        if isinstance(piece, _Problem):
            problems.append(piece.text)
        elif isinstance(piece, Field):
            problems += _field_problems(piece, workers, processes, channels)
    return problems


def _field_problems(f: Field, workers: Mapping[str, list[str]], processes: set[str],
                    channels: Mapping[str, str]) -> list[str]:
    shown = "{" + ".".join(x for x in f if x is not None) + "}"
    if f.what == "worker":
        base = re.split(r"#", f.name)[0]
        if f.name not in processes and f.name not in workers and base not in workers:
            listed = ", ".join(sorted(set(workers) | processes))
            return [f"{shown}: unknown worker '{f.name}' (workers: {listed})"]
        keys = WORKER_KEYS
    else:
        if f.name not in channels:
            listed = ", ".join(channels) or "none"
            return [f"{shown}: unknown channel '{f.name}' (channels: {listed})"]
        keys = CHANNEL_KEYS
    if f.key not in keys:
        return [f"{shown}: unknown key '{f.key}' (keys: {', '.join(sorted(keys))})"]
    if f.item is not None:
        if f.what == "channel" and f.key in _PER_PROCESS:
            if f.item not in processes and re.split(r"#", f.item)[0] not in workers:
                listed = ", ".join(sorted(set(workers) | processes))
                return [f"{shown}: unknown worker '{f.item}' (workers: {listed})"]
            return []
        if f.what == "worker" and f.key in _PER_CHANNEL and f.item not in channels:
            listed = ", ".join(channels) or "none"
            return [f"{shown}: unknown channel '{f.item}' (channels: {listed})"]
        if f.what == "worker" and f.key in _PER_SIGNAL:
            from ipcviz.signals import parse_signal, signal_name

            try:
                if signal_name(parse_signal(f.item)) != f.item:
                    return [f"{shown}: write the signal as {signal_name(parse_signal(f.item))}"]
            except (ValueError, KeyError):
                return [f"{shown}: unknown signal '{f.item}'"]
        elif f.key not in _PER_CHANNEL | _PER_SIGNAL:
            return [f"{shown}: '{f.key}' is one value; it has no item '{f.item}'"]
    return []


def render(template: str, worker: Callable[[str], list[Mapping[str, Any]]],
           channel: Callable[[str], Mapping[str, Any] | None]) -> str:
    """The template filled in: `worker(name)` gives the summary entries of a process or
    of a group's processes, `channel(name)` a channel's entry (or None)."""
    out = []
    for piece in _pieces(template):
        if isinstance(piece, Field):
            entries = worker(piece.name) if piece.what == "worker" else \
                [e for e in [channel(piece.name)] if e is not None]
            out.append(_shown(_value(entries, piece.key, piece.item)))
        elif isinstance(piece, str):
            out.append(piece)
    return "".join(out)


def _value(entries: list[Mapping[str, Any]], key: str, item: str | None) -> Any:
    """One process's value, or a group's numbers added up (its one value when they agree)."""
    values = []
    for entry in entries:
        value = entry.get(key)
        if item is not None:
            value = value.get(item, 0) if isinstance(value, Mapping) else None
        values.append(value)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sum(values)
    return values[0] if all(v == values[0] for v in values) else None


def _shown(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    if isinstance(value, Mapping):
        numbers = [v for v in value.values() if isinstance(v, (int, float))]
        return str(sum(numbers)) if numbers else ABSENT
    return str(value)


def check_result(scn: Any, groups: Mapping[str, list[str]], unsure: Any
                 ) -> Iterator[tuple[tuple[str, ...], str]]:
    """The loader's check of `result:` (scenario/validate.py): each problem at the key."""
    if not scn.result or unsure.all_workers or unsure.all_channels:
        return
    channels = {name: ch.kind for name, ch in scn.channels.items()}
    channels.update({name: "?" for name in unsure.channels})
    workers = {**groups, **{name: [name] for name in unsure.workers}}
    for text in template_problems(scn.result, workers, channels):
        yield (("result",), text)
