"""The scenario file format, version 1, as pydantic models (shape and ranges only).

Cross-references (a step naming an unknown channel, a lock that is not a
semaphore, ...) are checked afterwards in `validate.py`, where the whole file is known.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ipcviz.signals import parse_signal

#: Documented limits; see README "Limits".
MAX_WORKERS = 512
MAX_BYTES_PER_OP = 16 * 1024 * 1024
MAX_ARRAY_ELEMENTS = 1 << 22
MAX_MMAP_BYTES = 64 * 1024 * 1024
MAX_DURATION = 24 * 3600
MAX_SIGNAL_COUNT = 100_000
#: descriptors the runtime may hold for channels (2 per pipe or FIFO, 1 per socket or
#: POSIX queue): it waits with select(), which takes descriptors below 1,024 only, and
#: 1,000 pipes ended in "filedescriptor out of range in select()"
MAX_CHANNEL_DESCRIPTORS = 768
CHANNEL_DESCRIPTORS = {"pipe": 2, "fifo": 2, "socket": 1, "mqueue": 1}
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,31}$"

SignalNum = Annotated[int, BeforeValidator(parse_signal)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
HandlerAction = Literal["count", "ignore", "default", "exit", "log", "reap"]


class Model(BaseModel):
    """Base: frozen, and an unknown field is an error that lists the allowed ones."""

    # strict: a YAML `true` is not the number 1 and "3" is not 3; no NaN or infinity
    model_config = ConfigDict(frozen=True, populate_by_name=False, strict=True,
                              allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = [f.alias or name for name, f in cls.model_fields.items()]
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError(
                        "unknown_field",
                        "unknown field '{field}' (allowed: {allowed})",
                        {"field": str(key), "allowed": ", ".join(allowed)},
                    )
        return data


def _exactly_one(model: BaseModel, names: list[str], what: str) -> str:
    present = [n for n in names if getattr(model, n) is not None]
    if len(present) != 1:
        shown = ", ".join(names)
        if not present:
            raise PydanticCustomError("one_of", f"needs one {what} ({shown})")
        raise PydanticCustomError("one_of", f"has {len(present)} {what}s; give exactly one")
    return present[0]


# ---------------------------------------------------------------- channels


class PipeChannel(Model):
    kind: Literal["pipe"]
    capacity: int | None = Field(None, ge=4096, le=1 << 20)
    """Kernel buffer size in bytes (F_SETPIPE_SZ); the kernel rounds up to a page power of two."""


class FifoChannel(Model):
    kind: Literal["fifo"]
    capacity: int | None = Field(None, ge=4096, le=1 << 20)
    """As for pipes; the FIFO's path lives in the run's private directory."""


class SocketChannel(Model):
    kind: Literal["socket"]
    family: Literal["unix", "tcp"] = "unix"
    """unix: a socket file in the run directory; tcp: 127.0.0.1 only, a free port."""
    server: Name
    """The worker that accepts; every other worker using the channel connects on first use."""


class MqueueChannel(Model):
    kind: Literal["mqueue"]
    capacity: int = Field(10, ge=1, le=65536)
    """Maximum messages (mq_maxmsg); above /proc/sys/fs/mqueue/msg_max needs root."""
    message_size: int = Field(1024, ge=1, le=16 * 1024 * 1024)
    """Maximum bytes per message (mq_msgsize)."""


class QueueChannel(Model):
    kind: Literal["queue"]
    capacity: int | Literal["unbounded"] = "unbounded"
    """0 is a rendezvous, N bounds the queue, 'unbounded' never blocks a sender."""


class SharedArrayChannel(Model):
    kind: Literal["shared_array"]
    dtype: Literal[
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float32", "float64",
    ] = "int64"
    shape: list[Annotated[int, Field(ge=1)]] | Annotated[int, Field(ge=1)] = [1]
    """1-D (`[n]` or `n`) or 2-D (`[rows, cols]`)."""
    init: Literal["zeros", "arange"] | float | list[float] = "zeros"
    """Extension: initial contents: zeros, arange (0, 1, 2, ...), one number, or a flat list."""


class SemaphoreChannel(Model):
    kind: Literal["semaphore"]
    value: int = Field(1, ge=0, le=32767)
    """Initial value: 1 makes a mutex."""


class MmapChannel(Model):
    kind: Literal["mmap"]
    size: int = Field(4096, ge=1, le=MAX_MMAP_BYTES)
    """Bytes of the file in the run directory, mapped MAP_SHARED by every worker using it."""


Channel = Annotated[
    Union[
        PipeChannel, FifoChannel, SocketChannel, MqueueChannel, QueueChannel,
        SharedArrayChannel, SemaphoreChannel, MmapChannel,
    ],
    Field(discriminator="kind"),
]
CHANNEL_KINDS = ("pipe", "fifo", "socket", "mqueue", "queue", "shared_array", "semaphore", "mmap")


# ---------------------------------------------------------------- steps


class _Payload(Model):
    data: str | None = None
    size: int | None = Field(None, ge=1, le=MAX_BYTES_PER_OP)

    def payload_bytes(self) -> bytes:
        if self.data is not None:
            return self.data.encode("utf-8")
        return b"x" * int(self.size or 0)

    @model_validator(mode="after")
    def _data_or_size(self) -> _Payload:
        if (self.data is None) == (self.size is None):
            raise PydanticCustomError("one_of", "give either 'data' (text) or 'size' (bytes)")
        return self


class WriteArgs(_Payload):
    to: Name
    every: float | None = Field(None, gt=0, le=3600)
    """Extension: pause this many seconds after the write (a paced writer)."""


class ReadArgs(Model):
    from_: Name = Field(alias="from")
    bytes: int = Field(65536, ge=1, le=MAX_BYTES_PER_OP)
    block: bool = True


class SendArgs(_Payload):
    to: Name
    priority: int = Field(0, ge=0, le=31)
    block: bool = True
    ack: Name | None = None
    """Extension: wait for an acknowledgement on this queue; resend on timeout."""
    ack_timeout: float = Field(0.1, gt=0, le=60)
    retries: int = Field(3, ge=0, le=1000)


class ReceiveArgs(Model):
    from_: Name = Field(alias="from")
    block: bool = True
    timeout: float | None = Field(None, gt=0, le=3600)
    ack: Name | None = None
    """Extension: after receiving, acknowledge on this queue (to a sender using `ack`)."""


Index = int | list[int] | None


class IncrementArgs(Model):
    array: Name
    index: Index = None
    times: int = Field(1, ge=1, le=1_000_000_000)
    lock: Name | None = None


class SetArgs(Model):
    array: Name
    index: Index = None
    value: float


class SignalArgs(Model):
    to: str
    sig: SignalNum
    count: int = Field(1, ge=1, le=MAX_SIGNAL_COUNT)
    interval: float | None = Field(None, gt=0, le=3600)
    """Extension: seconds between the `count` signals (default: all at once)."""


class EchoArgs(Model):
    on: Name
    bytes: int = Field(4096, ge=1, le=MAX_BYTES_PER_OP)


class RepeatArgs(Model):
    times: Annotated[int, Field(ge=0)] | Literal["forever"]
    steps: list[Step]


STEP_NAMES = (
    "write", "read", "send", "receive", "increment", "set", "acquire", "release", "signal",
    "wait_signal", "block", "unblock", "spawn", "echo", "sleep", "repeat", "exit",
)


class Step(BaseModel):
    """One step: a mapping with exactly one key naming what to do."""

    model_config = ConfigDict(frozen=True, strict=True, allow_inf_nan=False)

    write: WriteArgs | None = None
    read: ReadArgs | None = None
    send: SendArgs | None = None
    receive: ReceiveArgs | None = None
    increment: IncrementArgs | None = None
    set: SetArgs | None = None
    acquire: Name | None = None
    release: Name | None = None
    signal: SignalArgs | None = None
    wait_signal: SignalNum | None = None
    block: list[SignalNum] | None = None
    unblock: list[SignalNum] | None = None
    spawn: Name | None = None
    echo: EchoArgs | None = None
    sleep: float | None = Field(None, ge=0, le=MAX_DURATION)
    repeat: RepeatArgs | None = None
    exit: int | None = Field(None, ge=0, le=255)

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "step_shape", "a step is a mapping with one key, e.g. `- sleep: 0.5`"
            )
        if len(data) != 1:
            raise PydanticCustomError(
                "step_shape",
                "a step has exactly one key; found {n} ({keys})",
                {"n": len(data), "keys": ", ".join(map(str, data)) or "none"},
            )
        (key,) = data
        if key not in STEP_NAMES:
            raise PydanticCustomError(
                "unknown_field",
                "unknown step '{field}' (steps: {allowed})",
                {"field": str(key), "allowed": ", ".join(STEP_NAMES)},
            )
        if data[key] is None:
            raise PydanticCustomError("step_shape", "step '{key}' needs a value", {"key": key})
        return data

    @property
    def kind(self) -> str:
        """The step's key, e.g. 'write'."""
        for name in STEP_NAMES:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated step without a key")

    @property
    def args(self) -> Any:
        return getattr(self, self.kind)


RepeatArgs.model_rebuild()


def all_steps(steps: list[Step]) -> list[Step]:
    """The steps and, depth first, the steps nested in their `repeat`s."""
    out = []
    for step in steps:
        out.append(step)
        if step.kind == "repeat":
            out += all_steps(step.args.steps)
    return out


class Worker(Model):
    count: int = Field(1, ge=1, le=MAX_WORKERS)
    """Replicas; names become NAME.0, NAME.1, ... when count > 1."""
    handlers: dict[SignalNum, HandlerAction] = {}
    block: list[SignalNum] = []
    loop: bool | Annotated[int, Field(ge=0)] = False
    restart: Literal["never", "on-failure", "always"] = "never"
    spawned: bool = False
    steps: list[Step] = []


# ---------------------------------------------------------------- actions

ACTION_NAMES = ("signal", "kill", "stop", "cont", "restart", "lock", "pause_steps", "resume_steps")


class LockArgs(Model):
    worker: str
    enabled: bool


class _Action(Model):
    signal: SignalArgs | None = None
    kill: str | None = None
    stop: str | None = None
    cont: str | None = None
    restart: str | None = None
    lock: LockArgs | None = None
    pause_steps: str | None = None
    resume_steps: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> _Action:
        _exactly_one(self, list(ACTION_NAMES), "action")
        return self

    @property
    def action(self) -> str:
        return next(n for n in ACTION_NAMES if getattr(self, n) is not None)


class TimelineEvent(_Action):
    at: float = Field(ge=0, le=MAX_DURATION)


class Trigger(_Action):
    key: str = Field(min_length=1, max_length=20)
    label: str | None = None


def _version(value: Any) -> Any:
    if isinstance(value, bool):  # Literal[1] would take `true` (True == 1)
        raise PydanticCustomError("version", "got {value}; expected 1", {"value": repr(value)})
    return value


class Scenario(Model):
    version: Annotated[Literal[1], BeforeValidator(_version)] = 1
    name: str | None = None
    description: str = ""
    duration: float = Field(10, gt=0, le=MAX_DURATION)
    channels: dict[Name, Channel] = {}
    workers: dict[Name, Worker]
    timeline: list[TimelineEvent] = []
    triggers: list[Trigger] = []
    expect: list[dict[str, Any]] = []

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "top_shape", "a scenario is a mapping with 'workers:' (and usually 'channels:')"
            )
        return data
