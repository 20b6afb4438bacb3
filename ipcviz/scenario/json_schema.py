"""A JSON Schema of the scenario format, generated from the pydantic models
(`schema.py`, and `kinds.py` and `models.py` for the channel and step kinds).

Editors (VS Code, Neovim, Helix through yaml-language-server) use it to complete keys
and flag mistakes while typing. It says what the models check on their own (shape,
ranges, names, unknown fields, one key per step, one action per timeline entry); what
needs the whole file (an unknown channel, a step on the wrong kind) is left to the loader.
The descriptions live here rather than in the models, which stay about validation
(except each step kind's one line, which is in the table of kinds).
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from ipcviz.scenario import fields, kinds, models
from ipcviz.scenario import schema as s
from ipcviz.signals import SIGRTMAX, SIGRTMIN, parse_signal, signal_name, valid_numbers

#: Where the generated file ships: beside the bundled scenarios, so their
#: `# yaml-language-server: $schema=scenario-schema.json` line works in a checkout and
#: in an installed package alike.
SCHEMA_FILENAME = "scenario-schema.json"
MODELINE_PREFIX = "# yaml-language-server: $schema="


def _any_case(word: str) -> str:
    """A regular expression matching `word` in any case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def _signal_schema() -> dict[str, Any]:
    """Signals as parse_signal takes them: SIGUSR1, usr1, SIGRTMIN+2, SIGRTMAX-1, 10, "10"."""
    numbers = valid_numbers()
    span = SIGRTMAX - SIGRTMIN
    offset = "(?:" + "|".join(str(n) for n in range(span, -1, -1)) + ")"
    names = sorted({n[3:] for n in map(signal_name, numbers) if not n.startswith("SIGRT")}
                   | {"IOT", "CLD"}, key=lambda n: (-len(n), n))
    realtime = (f"{_any_case('RTMIN')}(?:\\s*\\+\\s*{offset})?|"
                f"{_any_case('RTMAX')}(?:\\s*-\\s*{offset})?")
    pattern = (r"^\s*(?:" + "|".join(str(n) for n in sorted(numbers, reverse=True))
               + "|(?:" + _any_case("SIG") + ")?(?:" + realtime + "|"
               + "|".join(_any_case(n) for n in names) + "))\\s*$")
    return {
        "anyOf": [{"type": "integer", "enum": numbers}, {"type": "string", "pattern": pattern}],
        "description": "A signal by name (SIGUSR1, SIGTERM, SIGRTMIN+2) or number.",
        "examples": ["SIGUSR1", "SIGTERM", "SIGCHLD", "SIGRTMIN+1"],
    }


#: Descriptions of fields that have no attribute docstring in their model.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("Scenario", "version"): "Format version; only 1 exists.",
    ("Scenario", "name"): "Title shown in the app and the picker (default: the file name).",
    ("Scenario", "description"): "What the scenario teaches; the picker and `ipcviz list` show it.",
    ("Scenario", "duration"): "Seconds a headless run lasts at most (default 10).",
    ("Scenario", "channels"): "The IPC objects, by name: each has a `kind` and its options.",
    ("Scenario", "workers"): "The worker processes, by name, started in file order.",
    ("Scenario", "timeline"): "Actions at fixed times (seconds after the start).",
    ("Scenario", "triggers"): "Extra keys in the live view, each running one action.",
    ("Scenario", "expect"): "Checks on the final summary, verified by `ipcviz run --check`: "
                            "{worker: W, KEY: VALUE} or {channel: C, KEY: VALUE}.",
    ("PipeChannel", "kind"): "An anonymous pipe.",
    ("FifoChannel", "kind"): "A named pipe (FIFO) in the run's private directory.",
    ("SocketChannel", "kind"): "A stream socket: one server worker, clients connect on first use.",
    ("MqueueChannel", "kind"): "A POSIX message queue.",
    ("QueueChannel", "kind"): "A message queue built from a spool file and counting semaphores.",
    ("SharedArrayChannel", "kind"): "POSIX shared memory seen as a numpy array.",
    ("SharedArrayChannel", "dtype"): "The numpy element type.",
    ("SemaphoreChannel", "kind"): "A POSIX named semaphore.",
    ("MmapChannel", "kind"): "A file in the run directory mapped MAP_SHARED.",
    ("WindowChannel", "kind"): "A window of a large sparse file in the run directory, "
                               "mapped by each worker that reads it.",
    ("PageChannel", "kind"): "One page of memory mapped before any fork, at one address in "
                             "every worker.",
    ("WriteArgs", "to"): "The channel to write to (pipe, fifo, socket, mmap).",
    ("WriteArgs", "data"): "Text to write (UTF-8); give `data` or `size`.",
    ("WriteArgs", "size"): "Bytes of filler to write; give `data` or `size`.",
    ("WriteArgs", "from_read"): "Write what this worker's last read (or echo) on this pipe, "
                                "fifo or socket returned, instead of `data` or `size`.",
    ("ReadArgs", "from"): "The channel to read from (pipe, fifo, socket, mmap, shared_array).",
    ("ReadArgs", "bytes"): "Read at most this many bytes.",
    ("ReadArgs", "block"): "false: return at once when nothing is there.",
    ("SendArgs", "to"): "The queue to send to (mqueue or queue).",
    ("SendArgs", "data"): "Message text (UTF-8); give `data` or `size`.",
    ("SendArgs", "size"): "Bytes of filler in the message; give `data` or `size`.",
    ("SendArgs", "priority"): "Message priority (mqueue: higher is received first).",
    ("SendArgs", "block"): "false: fail at once instead of waiting when the queue is full.",
    ("SendArgs", "ack_timeout"): "Seconds to wait for an acknowledgement before sending again.",
    ("SendArgs", "retries"): "How many times to send again when no acknowledgement comes.",
    ("ReceiveArgs", "from"): "The queue to take a message from (mqueue or queue).",
    ("ReceiveArgs", "block"): "false: return at once when the queue is empty.",
    ("ReceiveArgs", "timeout"): "Give up waiting after this many seconds.",
    ("IncrementArgs", "array"): "The shared_array channel.",
    ("IncrementArgs", "index"): "Element: an int, or a list with one int per dimension "
                                "(default: element 0).",
    ("IncrementArgs", "times"): "Read-modify-write this many times.",
    ("IncrementArgs", "lock"): "A semaphore held around each increment (the race's cure).",
    ("SetArgs", "array"): "The shared_array channel.",
    ("SetArgs", "index"): "Element to set (omitted: every element).",
    ("SetArgs", "value"): "The value to store.",
    ("SignalArgs", "to"): "A worker, a replica group, or (in a step) `parent`, the runtime.",
    ("SignalArgs", "sig"): "The signal to send.",
    ("SignalArgs", "count"): "How many signals to send.",
    ("EchoArgs", "on"): "The socket channel this server echoes on.",
    ("EchoArgs", "bytes"): "Read at most this many bytes per echo.",
    ("RepeatArgs", "times"): "How many times, or `forever`.",
    ("RepeatArgs", "steps"): "The steps repeated.",
    ("Worker", "handlers"): "Signal -> what the worker does on it: count, ignore, default, "
                            "exit, log, reap (SIGCHLD only).",
    ("Worker", "block"): "Signals blocked from the start (they show as pending).",
    ("Worker", "loop"): "Repeat the steps: true (forever), false (once) or a number of times.",
    ("Worker", "restart"): "Start the worker again when it ends: never, on-failure "
                           "(non-zero exit or a signal), always.",
    ("Worker", "spawned"): "true: the runtime does not start it; a `spawn` step does.",
    ("Worker", "steps"): "What the worker does, in order.",
    ("Worker", "keeps"): "Pipe -> the end (read or write) this worker keeps open although "
                         "its steps never use it (a forgotten close; the `close` action "
                         "closes it).",
    ("LockArgs", "worker"): "The worker (or group) whose `lock:` use changes.",
    ("LockArgs", "enabled"): "false: increments skip their semaphore (a race); true: use it.",
    ("TimelineEvent", "at"): "Seconds after the start.",
    ("Trigger", "key"): "The key in the live view: one character or a key name (f5, "
                        "ctrl+x, alt+x, exclamation_mark), not one the app, Textual or the "
                        "terminal takes.",
    ("Trigger", "label"): "What the help screen and footer call it.",
}
_ACTIONS = {
    "signal": "Send a signal (count times, interval apart).",
    "kill": "SIGKILL a worker or group.",
    "stop": "SIGSTOP a worker or group (freeze).",
    "cont": "SIGCONT a worker or group (resume).",
    "restart": "Kill and start a worker again.",
    "lock": "Switch a worker's `lock:` use off or on (the race-condition switch).",
    "pause_steps": "Stop running steps (the worker stays alive and handles signals).",
    "resume_steps": "Run steps again after pause_steps.",
    "close": "The worker closes the pipe ends it `keeps:` open (the forgotten close, done).",
}
for _kind, _step in kinds.STEPS.items():
    DESCRIPTIONS[("Step", _kind)] = _step.doc
for _model in ("TimelineEvent", "Trigger"):
    for _action, _text in _ACTIONS.items():
        DESCRIPTIONS[(_model, _action)] = _text

MODEL_DESCRIPTIONS = {
    "Scenario": "An ipcviz scenario (format version 1): channels, workers with steps, "
                "timeline, trigger keys and expectations.",
    "Worker": "A worker process: its signal handlers and its steps.",
    "TimelineEvent": "One action at a time `at` (give exactly one action).",
    "Trigger": "One key in the live view running one action (give exactly one action).",
    "Step": "One step: a mapping with exactly one key naming what to do.",
}

class _Generator(GenerateJsonSchema):
    """Signals are written as names in YAML: describe them as such, not as bare integers."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema
                               ) -> dict[str, Any]:
        if schema.get("function", {}).get("function") is parse_signal:
            return _signal_schema()
        return super().function_before_schema(schema)


#: the modules whose models make up the format
_MODEL_MODULES = (fields, models, s)


def _attribute_docstrings() -> dict[tuple[str, str], str]:
    """The docstring under each field of the models: `capacity: int ...` then `\"\"\"...\"\"\"`."""
    found: dict[tuple[str, str], str] = {}
    nodes = [node for module in _MODEL_MODULES
             for node in ast.parse(inspect.getsource(module)).body]
    for node in nodes:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for field, doc in zip(body, body[1:]):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                    and isinstance(doc.value.value, str)):
                found[(node.name, field.target.id)] = " ".join(doc.value.value.split())
    return found


def _model_classes() -> dict[str, type]:
    """The pydantic models of the format, by name (their names in `$defs`)."""
    modules = {m.__name__ for m in _MODEL_MODULES}
    return {name: obj for name, obj in vars(s).items()
            if inspect.isclass(obj) and issubclass(obj, s.BaseModel)
            and obj.__module__ in modules}


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """`X | None = None` as plain X: in a step or an action, null is not a value."""
    options = prop.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        prop = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
        if len(rest) == 1:
            prop = {**rest[0], **prop}
        else:
            prop["anyOf"] = rest
    return prop


def generate() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    out = s.Scenario.model_json_schema(schema_generator=_Generator)
    defs = out.get("$defs", {})
    docs = {**_attribute_docstrings(), **DESCRIPTIONS}
    classes = _model_classes()
    for name, definition in [("Scenario", out), *defs.items()]:
        props = definition.get("properties", {})
        for field, prop in props.items():
            prop.pop("title", None)
            alias = "from_" if field == "from" else field
            text = docs.get((name, alias)) or docs.get((name, field))
            for base in getattr(classes.get(name), "__mro__", ())[1:]:
                text = text or docs.get((base.__name__, alias))
            if text:
                prop["description"] = text
        if name in MODEL_DESCRIPTIONS:
            definition["description"] = MODEL_DESCRIPTIONS[name]
        cls = classes.get(name)
        if (cls is not None and issubclass(cls, s.Model)) or name == "Step":
            definition["additionalProperties"] = False
    _one_of_keys(defs["Step"], s.STEP_NAMES, exactly_one_property=True)
    for name in ("TimelineEvent", "Trigger"):
        _one_of_keys(defs[name], s.ACTION_NAMES)
    for name in ("WriteArgs", "SendArgs"):
        for field in ("data", "size"):
            defs[name]["properties"][field] = _not_null(defs[name]["properties"][field])
        defs[name]["oneOf"] = [{"required": ["data"]}, {"required": ["size"]}]
    write = defs["WriteArgs"]
    write["properties"]["from_read"] = _not_null(write["properties"]["from_read"])
    write["oneOf"].append({"required": ["from_read"]})
    handlers = defs["Worker"]["properties"]["handlers"]
    handlers["propertyNames"] = {"$ref": "#/$defs/SignalName"}
    defs["SignalName"] = {
        "type": "string", "pattern": _signal_schema()["anyOf"][1]["pattern"],
        "description": "A signal name (SIGUSR1, SIGCHLD, SIGRTMIN+2) or number."}
    for field in ("channels", "workers"):  # names outside the pattern are errors
        out["properties"][field]["additionalProperties"] = False
    out["properties"]["expect"]["items"] = _expect_item()
    defs["Trigger"]["properties"]["key"].update(_trigger_key())
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "ipcviz scenario"
    return out


def _one_of_keys(definition: dict[str, Any], names: tuple[str, ...],
                 exactly_one_property: bool = False) -> None:
    """Exactly one of `names` present (a step has that key alone)."""
    props = definition["properties"]
    for name in names:
        props[name] = _not_null(props[name])
    if exactly_one_property:
        definition["minProperties"] = definition["maxProperties"] = 1
    else:
        definition["oneOf"] = [{"required": [name]} for name in names]


def _trigger_key() -> dict[str, Any]:
    """A trigger key: one character or a key name, not one taken (scenario/keys.py)."""
    import string

    from ipcviz.scenario import keys

    names = keys.NAMED_KEYS | set(keys.ALIASES) | keys.CHARACTER_NAMES | {
        f"alt+{c}" for c in string.ascii_lowercase + string.digits} | {
        f"alt+shift+{c}" for c in string.ascii_lowercase}
    spellings = set(keys.ALIASES) | set(string.punctuation) | keys.NAMED_KEYS | \
        keys.CHARACTER_NAMES | set(string.ascii_letters)
    taken = {k for k in spellings if keys.canonical_key(k) in keys.TAKEN} | {","}
    return {"anyOf": [{"maxLength": 1}, {"enum": sorted(names)}],
            "not": {"enum": sorted(taken)}}


def _expect_item() -> dict[str, Any]:
    from ipcviz.scenario.refs import CHANNEL_KEYS, WORKER_KEYS

    props: dict[str, Any] = {
        "worker": {"type": "string", "description": "The worker (or group, or NAME#N) checked."},
        "channel": {"type": "string", "description": "The channel checked."},
        "index": {"description": "With `equals`: one shared_array element."},
        "equals": {"description": "With `index`: the element's expected value."},
    }
    for key in sorted(WORKER_KEYS | CHANNEL_KEYS):
        props.setdefault(key, {"description": "A summary key: a number (equal), a comparison "
                                              "like '>=1', or a mapping key by key."})
    return {"type": "object", "properties": props,
            "description": "{worker: W, KEY: VALUE} or {channel: C, KEY: VALUE}; the loader "
                           "checks names and keys."}


def schema_text() -> str:
    """The schema as the shipped file holds it (sorted keys, two-space indent, final newline)."""
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def shipped_path() -> Path:
    """The schema file shipped with the bundled scenarios."""
    from ipcviz.scenario.paths import bundled_dir

    return bundled_dir() / SCHEMA_FILENAME
