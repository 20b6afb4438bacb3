"""The commands the UI sends the runtime and the messages it answers with, as typed
values, and their one wire form.

The UI builds command objects and `encode`s them into one JSON line each; the runtime
`decode`s every line back into the same objects and executes them by type
(`Runtime.execute`). The scenario's timeline and triggers become the same objects
(`from_scenario`), so a key, a trigger and a timeline entry are one code path.

Wire form (JSON lines on the runtime's stdin), kept as it always was:
  {"cmd": "action", "action": "signal", "arg": {"to": ..., "sig": N, "count": N}}
  {"cmd": "action", "action": "kill" | "stop" | "cont" | "restart" | "pause_steps"
                             | "resume_steps" | "close", "arg": WORKER}
  {"cmd": "action", "action": "lock", "arg": {"worker": ..., "enabled": true}}
  {"cmd": "trigger", "key": KEY}
  {"cmd": "time", "op": "pause" | "resume" | "step_all"}
  {"cmd": "time", "op": "step", "worker": WORKER}
  {"cmd": "time", "op": "speed", "factor": F}     (F one of 1, 1/2, ... 1/64)
  {"cmd": "quit"}
Runtime -> UI (JSON lines on its stdout; `encode_message` / `decode_message`):
  {"type": "snapshot", "snapshot": {...}}            Frame: a Snapshot's wire form
  {"type": "error", "lines": [...]}                  Refused: the scenario or start failed
  {"type": "bye", "leaks": {...}, "schedule": [...], "ran_freely": bool}
                                                     Bye: the run is over and cleaned up
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import orjson

from ipcviz.signals import parse_signal

#: as the scenario format's `signal: {count:}` allows (scenario/schema.py MAX_SIGNAL_COUNT)
MAX_SIGNAL_COUNT = 100_000


class ProtocolError(ValueError):
    """A command line that is not one of the commands below."""


@dataclass(frozen=True)
class SendSignal:
    """Send `sig` to every live worker `to` names (a worker or a group), `count` times
    each; with `interval`, one every `interval` seconds."""

    to: str
    sig: int
    count: int = 1
    interval: float | None = None
    action: ClassVar[str] = "signal"


@dataclass(frozen=True)
class Kill:
    to: str
    action: ClassVar[str] = "kill"


@dataclass(frozen=True)
class Stop:
    to: str
    action: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Cont:
    to: str
    action: ClassVar[str] = "cont"


@dataclass(frozen=True)
class Restart:
    worker: str
    action: ClassVar[str] = "restart"


@dataclass(frozen=True)
class PauseSteps:
    """Hold the worker at its next step boundary."""

    worker: str
    action: ClassVar[str] = "pause_steps"


@dataclass(frozen=True)
class ResumeSteps:
    worker: str
    action: ClassVar[str] = "resume_steps"


@dataclass(frozen=True)
class CloseKept:
    """The worker closes the pipe ends it keeps open (`keeps:`): the forgotten close."""

    worker: str
    action: ClassVar[str] = "close"


@dataclass(frozen=True)
class SetLock:
    """The race switch: the worker's `lock:` use on or off."""

    worker: str
    enabled: bool
    action: ClassVar[str] = "lock"


@dataclass(frozen=True)
class FireTrigger:
    """Run the scenario's trigger bound to `key`."""

    key: str


@dataclass(frozen=True)
class PauseRun:
    """Hold every worker at its next step boundary (run-wide; scheduler.py)."""

    op: ClassVar[str] = "pause"


@dataclass(frozen=True)
class ResumeRun:
    """Let the whole run go on at its speed."""

    op: ClassVar[str] = "resume"


@dataclass(frozen=True)
class StepAll:
    """Every held worker performs exactly one operation, then holds again."""

    op: ClassVar[str] = "step_all"


@dataclass(frozen=True)
class StepWorker:
    """Only `worker` performs exactly one operation."""

    worker: str
    op: ClassVar[str] = "step"


@dataclass(frozen=True)
class SetSpeed:
    """Slow motion: `factor` is 1, 1/2, ... 1/64."""

    factor: float
    op: ClassVar[str] = "speed"


@dataclass(frozen=True)
class Quit:
    """The UI is done: the runtime cleans up and says bye."""


Action = Union[SendSignal, Kill, Stop, Cont, Restart, PauseSteps, ResumeSteps, SetLock,
               CloseKept]
TimeCommand = Union[PauseRun, ResumeRun, StepAll, StepWorker, SetSpeed]
Command = Union[Action, TimeCommand, FireTrigger, Quit]
#: the speed factors SetSpeed accepts (as runtime/scheduler.py SPEEDS)
SPEED_FACTORS = tuple(1 / 2 ** k for k in range(7))
_TIME_PLAIN: dict[str, type] = {c.op: c for c in (PauseRun, ResumeRun, StepAll)}

#: actions whose argument on the wire is one worker (or group) name
_BY_NAME: dict[str, type] = {c.action: c for c in (Kill, Stop, Cont, Restart, PauseSteps,
                                                    ResumeSteps, CloseKept)}


def encode(command: Command) -> dict[str, Any]:
    """The wire form of a command (one JSON object)."""
    if isinstance(command, Quit):
        return {"cmd": "quit"}
    if isinstance(command, FireTrigger):
        return {"cmd": "trigger", "key": command.key}
    if isinstance(command, StepWorker):
        return {"cmd": "time", "op": "step", "worker": command.worker}
    if isinstance(command, SetSpeed):
        return {"cmd": "time", "op": "speed", "factor": command.factor}
    if isinstance(command, (PauseRun, ResumeRun, StepAll)):
        return {"cmd": "time", "op": command.op}
    if isinstance(command, SendSignal):
        arg: Any = {"to": command.to, "sig": command.sig, "count": command.count}
        if command.interval is not None:
            arg["interval"] = command.interval
    elif isinstance(command, SetLock):
        arg = {"worker": command.worker, "enabled": command.enabled}
    else:
        arg = command.to if isinstance(command, (Kill, Stop, Cont)) else command.worker
    return {"cmd": "action", "action": command.action, "arg": arg}


def decode(message: object) -> Command:
    """The command a wire object stands for; ProtocolError if it is none."""
    if not isinstance(message, dict):
        raise ProtocolError("a command is a JSON object")
    cmd = message.get("cmd")
    if cmd == "quit":
        return Quit()
    if cmd == "trigger":
        return FireTrigger(_text(message.get("key"), "key"))
    if cmd == "time":
        return _decode_time(message)
    if cmd != "action":
        raise ProtocolError(f"unknown command {cmd!r}")
    action, arg = message.get("action"), message.get("arg")
    if action in _BY_NAME:
        return _BY_NAME[action](_text(arg, action))
    if not isinstance(arg, dict):
        raise ProtocolError(f"{action!r}: the argument is not an object")
    if action == "signal":
        count, interval = arg.get("count", 1), arg.get("interval")
        if type(count) is not int or not 1 <= count <= MAX_SIGNAL_COUNT:
            raise ProtocolError(f"signal: count {count!r} is not in 1..{MAX_SIGNAL_COUNT}")
        if interval is not None and (not isinstance(interval, (int, float))
                                     or isinstance(interval, bool)
                                     or not 0 < interval <= 3600):
            raise ProtocolError(f"signal: interval {interval!r} is not in (0, 3600]")
        try:
            sig = parse_signal(arg.get("sig"))
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"signal: {exc}") from None
        return SendSignal(_text(arg.get("to"), "signal.to"), sig, count, interval)
    if action == "lock":
        enabled = arg.get("enabled")
        if not isinstance(enabled, bool):
            raise ProtocolError("lock: enabled is not true or false")
        return SetLock(_text(arg.get("worker"), "lock.worker"), enabled)
    raise ProtocolError(f"unknown action {action!r}")


def from_scenario(entry: Any) -> Action:
    """The command a scenario's timeline entry or trigger stands for (already validated
    by the loader: `entry.action` names the one field that is set)."""
    name = entry.action
    arg = getattr(entry, name)
    if name == "signal":
        return SendSignal(arg.to, arg.sig, arg.count, arg.interval)
    if name == "lock":
        return SetLock(arg.worker, arg.enabled)
    return _BY_NAME[name](arg)


def _decode_time(message: dict[str, Any]) -> TimeCommand:
    op = message.get("op")
    if op in _TIME_PLAIN:
        return _TIME_PLAIN[op]()
    if op == "step":
        return StepWorker(_text(message.get("worker"), "step.worker"))
    if op == "speed":
        factor = message.get("factor")
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) \
                or factor not in SPEED_FACTORS:
            raise ProtocolError(f"speed: {factor!r} is not one of 1, 1/2, ... 1/64")
        return SetSpeed(float(factor))
    raise ProtocolError(f"unknown time command {op!r}")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what}: not a name")
    return value


# ---------------------------------------------------------------- runtime -> UI


@dataclass(frozen=True)
class Frame:
    """One Snapshot, in its wire form (`Snapshot.to_dict`; the UI escapes and builds it)."""

    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """The runtime could not run the scenario: these lines say why (then it exits 2)."""

    lines: list[str]


@dataclass(frozen=True)
class Bye:
    """The runtime has cleaned up: what it left behind (`Runtime.leaks`), the order of
    operations it performed while stepping (the schedule), and whether it also ran freely."""

    leaks: dict[str, Any] | None
    schedule: list[str]
    ran_freely: bool = False


Message = Union[Frame, Refused, Bye]


def encode_message(message: Message) -> dict[str, Any]:
    """The wire form of a runtime message (one JSON object)."""
    if isinstance(message, Frame):
        return {"type": "snapshot", "snapshot": message.snapshot}
    if isinstance(message, Refused):
        return {"type": "error", "lines": list(message.lines)}
    return {"type": "bye", "leaks": message.leaks, "schedule": list(message.schedule),
            "ran_freely": message.ran_freely}


def message_line(message: Message) -> bytes:
    """A runtime message as one JSON line. orjson: a 64-worker frame (67 KB) takes 0.3 ms
    instead of json's 2.3, and is read back in 0.4 instead of 2.6, ten times a second on
    each side. Its output is UTF-8 with control characters escaped (the UI escapes what
    a string holds, see tui/source.py). An int beyond 64 bits (a sum over a big array)
    is more than orjson writes or reads exactly (it reads one as a float): that frame
    goes through json, and starts with a space, which tells the reader to use json too."""
    try:
        return orjson.dumps(encode_message(message), default=_plain,
                            option=_ORJSON_OPTIONS) + b"\n"
    except TypeError:
        return b" " + json.dumps(encode_message(message), separators=(",", ":")).encode() + b"\n"


def read_message_line(line: bytes) -> Message:
    """The message of one line from the runtime; ValueError if it is not JSON (a cut
    line), ProtocolError (a ValueError too) if it is no message this UI knows."""
    if line.startswith(b" "):  # written by json: it holds an int orjson would round
        return decode_message(json.loads(line))
    return decode_message(orjson.loads(line))


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _plain(value: object) -> object:
    """What json writes for the values orjson leaves to us: a NamedTuple (a worker's
    `waiting`, `next_op`) as a list, a numpy number or array as its Python value."""
    if isinstance(value, tuple):
        return list(value)
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decode_message(data: object) -> Message:
    """The runtime message a wire object stands for; ProtocolError if it is none."""
    if not isinstance(data, dict):
        raise ProtocolError("a runtime message is a JSON object")
    kind = data.get("type")
    if kind == "snapshot" and isinstance(data.get("snapshot"), dict):
        return Frame(data["snapshot"])
    if kind == "error" and isinstance(data.get("lines"), list):
        return Refused([str(line) for line in data["lines"]])
    if kind == "bye":
        leaks = data.get("leaks")
        return Bye(leaks if isinstance(leaks, dict) else None,
                   [str(s) for s in data.get("schedule") or []], bool(data.get("ran_freely")))
    raise ProtocolError(f"unknown runtime message {kind!r}")
