"""The scenario file format, version 1, as pydantic models (shape and ranges only).

The models of each channel kind's options and each step kind's arguments are in the
table of kinds (`kinds.py`); the `Step` model and the channel union are built from it
here. Cross-references (a step naming an unknown channel, a lock that is not a
semaphore, ...) are checked afterwards in `validate.py`, where the whole file is known
(in the same pass: `partial.py` sets aside the parts that do not validate here).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ipcviz.scenario.fields import (  # re-exported: the format's names, in one place
    MAX_ARRAY_ELEMENTS,
    MAX_BYTES_PER_OP,
    MAX_CHANNEL_DESCRIPTORS,
    MAX_DURATION,
    MAX_MMAP_BYTES,
    MAX_SCHEDULE,
    MAX_SIGNAL_COUNT,
    MAX_WORKERS,
    NAME_PATTERN,
    Model,
    Name,
    SignalNum,
    _exactly_one,
)
from ipcviz.scenario.kinds import CHANNELS, STEPS
from ipcviz.scenario.models import (  # re-exported
    DispositionArgs,
    EchoArgs,
    FifoChannel,
    FileChannel,
    IncrementArgs,
    MmapChannel,
    MqueueChannel,
    PageChannel,
    PipeChannel,
    QueueChannel,
    ReadArgs,
    ReceiveArgs,
    RepeatArgs,
    RpcChannel,
    SemaphoreChannel,
    SendArgs,
    SetArgs,
    SharedArrayChannel,
    ShmChannel,
    SignalArgs,
    SocketChannel,
    SysvQueueChannel,
    WindowChannel,
    WriteArgs,
)

HandlerAction = Literal["count", "ignore", "default", "exit", "log", "reap"]
SaFlag = Literal["SA_RESTART", "SA_RESETHAND", "SA_NODEFER"]

# ---------------------------------------------------------------- channels

if TYPE_CHECKING:
    # The type checker's view of the union the table builds below: each model's `kind`
    # is a Literal, so `ch.kind == "mqueue"` narrows `ch` to MqueueChannel. A kind not
    # listed here still validates and runs; only mypy does not know its options.
    Channel = Union[PipeChannel, FifoChannel, SocketChannel, MqueueChannel, SysvQueueChannel,
                    QueueChannel, SharedArrayChannel, SemaphoreChannel, MmapChannel,
                    PageChannel, ShmChannel, WindowChannel, FileChannel, RpcChannel]
else:
    Channel = Annotated[
        Union[tuple(kind.options for kind in CHANNELS.values())],
        Field(discriminator="kind"),
    ]
CHANNEL_KINDS = tuple(CHANNELS)

# ---------------------------------------------------------------- steps

STEP_NAMES = tuple(STEPS)


class _StepBase(BaseModel):
    """What every step has; `Step` adds one optional field per step kind (kinds.STEPS)."""

    model_config = ConfigDict(frozen=True, strict=True, allow_inf_nan=False)

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

    @functools.cached_property
    def kind(self) -> str:
        """The step's key, e.g. 'write' (kept: the sampler asks for every worker, every
        frame, and finding it is a walk over every step name)."""
        for name in STEP_NAMES:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated step without a key")

    @property
    def args(self) -> Any:
        return getattr(self, self.kind)


if TYPE_CHECKING:
    # The type checker sees what every step has: its `kind` and its `args` (typed by
    # the step kind's model in kinds.STEPS, which only the run-time model knows).
    Step = _StepBase
else:
    Step = create_model(
        "Step", __base__=_StepBase, __module__=__name__,
        __doc__="One step: a mapping with exactly one key naming what to do.",
        **{name: (Optional[kind.args], None) for name, kind in STEPS.items()},
    )
RepeatArgs.model_rebuild(_types_namespace={"Step": Step})


def all_steps(steps: list[Step]) -> list[Step]:
    """The steps and, depth first, the steps nested in their `repeat`s."""
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if step.kind == "repeat":
            out += all_steps(step.args.steps)
    return out


class StdinFrom(Model):
    from_: Name = Field(alias="from")
    """Extension: the pipe or FIFO whose read end becomes the program's standard input."""


class AttachTo(Model):
    pid: int = Field(ge=1, le=1 << 22)
    """Extension (what `ipcviz watch --pid` writes): a running process of yours, observed
    with everything under it; ipcviz did not start it and never ends it."""
    signals: bool = False
    """Extension: let keys and the timeline signal it (`watch --allow-signals`); without
    it the process is observed only."""
    start: int | None = Field(None, ge=0)
    """Extension: its kernel start time (clock ticks, /proc/PID/stat field 22), which
    `watch --pid` writes: a restart of the run (ctrl+r) then never watches another
    process that has taken the pid since."""


class StdoutTo(Model):
    to: Name
    """Extension: the pipe or FIFO whose write end becomes the program's standard output."""


#: most arguments, and bytes in all, a program's command line may have
MAX_EXEC_ARGS = 256
MAX_EXEC_TEXT = 1024


class Worker(Model):
    count: int = Field(1, ge=1, le=MAX_WORKERS)
    """Replicas; names become NAME.0, NAME.1, ... when count > 1."""
    handlers: dict[SignalNum, HandlerAction] = {}
    sa_flags: dict[SignalNum, list[SaFlag]] = {}
    """Extension: signal -> sigaction(2) flags for its handler (SA_RESTART, SA_RESETHAND,
    SA_NODEFER), set in the kernel on the handler `handlers:` gives it."""
    block: list[SignalNum] = []
    loop: bool | Annotated[int, Field(ge=0)] = False
    restart: Literal["never", "on-failure", "always"] = "never"
    spawned: bool = False
    steps: list[Step] = []
    exec: list[Annotated[str, Field(min_length=1, max_length=MAX_EXEC_TEXT)]] | None = Field(
        None, min_length=1, max_length=MAX_EXEC_ARGS)
    """Extension: run this program (argv, no shell) instead of `steps:`."""
    cwd: str | None = Field(None, min_length=1, max_length=MAX_EXEC_TEXT)
    """Extension: the program's working directory (default: where ipcviz was started)."""
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)],
              Annotated[str, Field(max_length=MAX_EXEC_TEXT)]] = Field({}, max_length=100)
    """Extension: environment variables added for the program."""
    stdin: StdinFrom | None = None
    """Extension: the program's standard input is this channel's read end."""
    stdout: StdoutTo | None = None
    """Extension: the program's standard output is this channel's write end."""
    attach: AttachTo | None = None
    """Extension: observe this running process instead of starting one (`watch --pid`)."""
    ready: str | None = Field(None, min_length=1, max_length=200)
    """Extension: the timeline waits until the program has printed a line holding this
    text (on its standard output or error); its `at:` times count from that moment."""
    trace: bool = False
    """Extension: follow the program and every process it starts with strace: exact counts
    of the signals delivered to them and the bytes of each read and write by descriptor."""
    keeps: dict[Name, Literal["read", "write"]] = Field({}, max_length=MAX_WORKERS)
    """Extension: pipe -> the end (`read` or `write`) this worker keeps open although its
    steps never use it, as a forked child that forgot to close it does (the `close`
    action closes it)."""

    #: signals `handlers:` names more than once in other spellings (SIGUSR1, usr1, 10):
    #: number -> the spellings, in file order (the mapping kept only the last one)
    _handler_spellings: dict[int, list[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _same_signal_twice(cls, data: Any, handler: Any) -> Any:
        worker = handler(data)
        raw = data.get("handlers") if isinstance(data, dict) else None
        if isinstance(raw, dict):
            from ipcviz.signals import parse_signal

            spellings: dict[int, list[str]] = {}
            for key in raw:
                try:
                    spellings.setdefault(parse_signal(key), []).append(str(key))
                except ValueError:
                    pass
            worker._handler_spellings = {n: s for n, s in spellings.items() if len(s) > 1}
        return worker

    @property
    def runs_program(self) -> bool:
        """A real program (started with `exec:`, or an attached process): no steps."""
        return self.exec is not None or self.attach is not None


# ---------------------------------------------------------------- actions

ACTION_NAMES = ("signal", "kill", "stop", "cont", "restart", "lock", "pause_steps", "resume_steps",
                "close")


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
    close: str | None = None

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


class Question(Model):
    ask: str = Field(min_length=1, max_length=500)
    """Extension: the question, asked before the run (`ipcviz quiz`)."""
    answer: dict[str, str | bool | None]
    """Extension: where the true answer is in the headless summary: `{worker: NAME, KEY:
    ITEM}` or `{channel: NAME, KEY: ITEM}`; ITEM names an entry of a per-signal or
    per-channel count, or is null for the value itself."""
    choices: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None, min_length=2, max_length=10)
    """Extension: the possible answers; the true one is the choice equal to the value."""
    tolerance: float = Field(0, ge=0)
    """Extension: a number answer is right within this distance of the true value."""
    explain: str = Field("", max_length=2000)
    """Extension: shown after the run, beside the true value."""


class Given(Model):
    name: Name
    """Extension: the given's name; `{NAME}` in a question's ask and explain says its value."""
    at: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=10)
    """Extension: where it is in this file, as dotted paths (`workers.a.loop`,
    `timeline.3.signal.count`); each holds the first of `values`."""
    values: list[int] = Field(min_length=2, max_length=20)
    """Extension: what `--seed` may make it; the first is the file's own."""


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
    questions: list[Question] = Field([], max_length=20)
    """Extension: predict-then-run questions (`ipcviz quiz`)."""
    schedule: list[Annotated[str, Field(max_length=40)]] | Annotated[
        str, Field(max_length=MAX_SCHEDULE * 41)] | None = None
    """Extension: worker names (a list, or one string "a b a b"), each letting that worker
    perform its next operation; no other worker moves while it lasts."""
    after_schedule: Literal["run", "pause"] = "run"
    """Extension: what the run does once the schedule is done (default run)."""
    speed: float = Field(1, gt=0, le=1)
    """Extension: the speed factor the run starts at: 1, 0.5, 0.25, ... 0.015625 (1/64)."""
    compare: list[Name] = Field([], max_length=8)
    """Extension: channels whose throughput is compared side by side while they all run
    (the live speed panel, and `moved`, `mb_per_s` and `rank` in their summary entries)."""
    count_syscalls: bool = False
    """Extension: count, from the kernel, the system calls of the workers of each compared
    channel (`syscalls`, `copy_calls` and their cost per message in its summary entry);
    where the kernel does not let them be counted the run goes on and says why."""
    vary: list[Given] = Field([], max_length=10)
    """Extension: givens `quiz --seed N` and `course --seed N` vary (ipcviz/scenario/vary.py)."""
    start: Literal["running", "held"] = "running"
    """Extension: `held`: the live view starts with nothing moving until space (run) or n
    (one step); headless runs, --check and recordings start running all the same."""
    result: str | None = Field(None, min_length=1, max_length=400)
    """Extension: the lesson's outcome in one line, filled in with the run's own values on
    every frame: `{worker.NAME.KEY}`, `{channel.NAME.KEY}` (and `.ITEM`), as `expect:`
    names them; shown under the title while the lesson runs."""

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "top_shape", "a scenario is a mapping with 'workers:' (and usually 'channels:')"
            )
        return data
