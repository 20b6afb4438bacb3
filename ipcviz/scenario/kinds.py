"""The one table of kinds: every step kind and every channel kind, with what the rest of
ipcviz needs to know about it.

Per channel kind: its options (the model of its entry under `channels:`), the module
that runs it, and its family (which counters it has and which panel shows it). Per step
kind: its arguments (the model of its value), the channels it names (which field, which
role that gives its worker on the channel, which channel kinds it accepts) and a line
saying what it does. `schema.py` builds the `Step` and channel models from here, the
loader checks references with it (`validate.py`) and works out the plan (`plan.py`);
the runtime, the workers and the sampler only read those.

Adding a step kind: its args model and one `STEPS` entry here, plus its handler in one
module of `ipcviz/worker/steps/` (registered with `@handles`). Adding a channel kind:
its options model and one `CHANNELS` entry here, plus its module in `ipcviz/channels/`
(and its panel, if none of the existing ones shows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ipcviz.scenario.fields import (
    MAX_BYTES_PER_OP,
    MAX_DURATION,
    MAX_MMAP_BYTES,
    MAX_SIGNAL_COUNT,
    Model,
    Name,
    SignalNum,
)

# ---------------------------------------------------------------- channel options



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
    family: Literal["unix", "tcp", "udp"] = "unix"
    """unix: a socket file in the run directory; tcp: 127.0.0.1 only, a free port;
    udp (extension): datagrams on 127.0.0.1, a free port."""
    type: Literal["stream", "dgram"] | None = None
    """Extension: stream (connections; tcp's and unix's default) or dgram (datagrams:
    udp's only type, and unix's when given)."""
    server: Name
    """The worker that accepts (stream) or receives at the bound address (dgram); every
    other worker using the channel connects on first use."""
    receive_buffer: int | None = Field(None, ge=1024, le=16 * 1024 * 1024)
    """Extension: the server socket's receive buffer in bytes (SO_RCVBUF): a small one
    makes a slow UDP reader drop datagrams."""


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


class FileChannel(Model):
    kind: Literal["file"]
    lock: bool = False
    """true: flock(LOCK_EX) around each write and flock(LOCK_SH) around each read."""
    pause: float = Field(0.0, ge=0, le=60)
    """Seconds between the two pieces of each write (a slow write a reader can catch)."""


class RpcChannel(Model):
    kind: Literal["rpc"]
    family: Literal["unix", "tcp"] = "unix"
    """Extension: the stream socket the calls travel on: a socket file in the run
    directory (unix) or 127.0.0.1 and a free port (tcp)."""
    server: Name
    """The worker whose `serve` steps answer; every other worker using the channel
    connects on its first `call`."""


# ---------------------------------------------------------------- step arguments


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
    from_read: Name | None = None
    """Extension: write the bytes this worker's last `read` (or `echo`) on that pipe,
    FIFO or socket returned, instead of `data` or `size` (nothing before its first read)."""

    @model_validator(mode="after")
    def _data_or_size(self) -> WriteArgs:
        if self.from_read is None:
            _Payload._data_or_size(self)
        elif self.data is not None or self.size is not None:
            raise PydanticCustomError("one_of", "give 'from_read' alone, without 'data' or "
                                                "'size'")
        return self


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


#: the methods a `serve` step knows (JSON-RPC 2.0 method names)
RPC_METHODS = ("add", "echo", "sleep")
#: longest `sleep` a call may ask a server for
MAX_RPC_SLEEP = 60


class CallArgs(Model):
    on: Name
    method: Literal["add", "echo", "sleep"]
    """add: the sum of the numbers in `params`; echo: `params` back; sleep: wait
    params[0] seconds, then answer (a slow server)."""
    params: list[Annotated[float, Field(ge=-1e15, le=1e15)] | Annotated[str, Field(
        max_length=200)]] = Field([], max_length=16)
    timeout: float = Field(1.0, gt=0, le=60)
    """Seconds to wait for the answer before sending the call again (or giving up)."""
    retries: int = Field(0, ge=0, le=100)
    """How many times to send the same call again (same id) after a timeout or a lost
    connection: at-least-once delivery, so a server may do the work twice."""

    @model_validator(mode="after")
    def _params_fit(self) -> CallArgs:
        numbers = [p for p in self.params if not isinstance(p, str)]
        if self.method == "add" and len(numbers) != len(self.params):
            raise PydanticCustomError("rpc_params", "add takes numbers only, e.g. [2, 3]")
        if self.method == "sleep" and (len(numbers) != 1 or len(self.params) != 1
                                       or not 0 <= numbers[0] <= MAX_RPC_SLEEP):
            raise PydanticCustomError("rpc_params", "sleep takes one number of seconds "
                                      "(0 to {most}), e.g. [1.5]", {"most": MAX_RPC_SLEEP})
        return self


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
    steps: list["Step"]  # noqa: F821 (schema.py builds Step and rebuilds this)


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class ChannelKind:
    """What a channel kind is to the rest of ipcviz."""

    options: type[Model]
    #: "module:Class" of the class that runs it (ipcviz/channels/), imported when needed
    module: str
    #: which per-worker counters it has: "bytes" (written/read), "messages" (sent/received),
    #: "array" (increments), "lock" (acquired/released), "rpc" (calls and answers)
    counters: str
    #: the panel of the live view that shows it: "pipes", "queues", "memory", "locks",
    #: "rpc"
    panel: str
    #: the steps the loader suggests for it when a step does not work on it
    hint: str
    #: the option naming the worker that serves it: that worker (and the children it
    #: spawns) get the role "server" on it instead of their steps' roles
    server_option: str | None = None


@dataclass(frozen=True)
class ChannelUse:
    """A channel a step names, and what naming it means."""

    #: the args attribute holding the channel's name (None: the args are the name)
    field: str | None
    #: the role it gives the worker on that channel (which ends or handles it gets)
    role: str
    #: the step kind whose channel kinds the loader accepts here (its wording too);
    #: "" for the step's own, None when another check covers it (send's `ack`)
    checked_as: str | None = ""


@dataclass(frozen=True)
class StepKind:
    """What a step kind is to the rest of ipcviz."""

    #: the type of the step's value (a model, or a plain annotated type)
    args: Any
    #: one line for the JSON schema and editors
    doc: str
    #: the channel kinds it works on (its first use); () for steps on no channel
    channels: tuple[str, ...] = ()
    #: the channels it names, first the one it works on
    uses: tuple[ChannelUse, ...] = ()

    def channel_names(self, args: Any) -> list[tuple[ChannelUse, str]]:
        """(use, channel name) for each channel these args name."""
        out = []
        for use in self.uses:
            name = args if use.field is None else getattr(args, use.field)
            if name:
                out.append((use, name))
        return out


#: Roles that put data into a channel, and roles that take it out (the panels' writers
#: and readers); a server does both.
WRITING_ROLES = frozenset({"write", "array", "send", "server", "call"})
READING_ROLES = frozenset({"read", "receive", "server"})

_STREAMS = ("pipe", "fifo", "socket", "mmap")
_QUEUES = ("mqueue", "queue")
_FILES = ("file",)

CHANNELS: dict[str, ChannelKind] = {
    "pipe": ChannelKind(PipeChannel, "ipcviz.channels.pipe:PipeChannel", "bytes", "pipes",
                        "write/read"),
    "fifo": ChannelKind(FifoChannel, "ipcviz.channels.fifo:FifoChannel", "bytes", "pipes",
                        "write/read"),
    "socket": ChannelKind(SocketChannel, "ipcviz.channels.socket_channel:SocketChannel",
                          "bytes", "pipes", "write/read/echo", server_option="server"),
    "mqueue": ChannelKind(MqueueChannel, "ipcviz.channels.mqueue:MqueueChannel",
                          "messages", "queues", "send/receive"),
    "queue": ChannelKind(QueueChannel, "ipcviz.channels.queue:QueueChannel", "messages",
                         "queues", "send/receive"),
    "shared_array": ChannelKind(SharedArrayChannel,
                                "ipcviz.channels.shared_array:SharedArrayChannel", "array",
                                "memory", "increment/set"),
    "semaphore": ChannelKind(SemaphoreChannel, "ipcviz.channels.semaphore:SemaphoreChannel",
                             "lock", "locks", "acquire/release"),
    "mmap": ChannelKind(MmapChannel, "ipcviz.channels.mmap_file:MmapChannel", "bytes",
                        "memory", "write/read"),
    "file": ChannelKind(FileChannel, "ipcviz.channels.file_channel:FileChannel", "bytes",
                        "pipes", "write/read"),
    "rpc": ChannelKind(RpcChannel, "ipcviz.channels.rpc:RpcChannel", "rpc", "rpc",
                       "call/serve", server_option="server"),
}

STEPS: dict[str, StepKind] = {
    "write": StepKind(WriteArgs, "Write bytes to a pipe, fifo, socket or mmap channel (or "
                                 "append a record to a file).",
                      _STREAMS + _FILES, (ChannelUse("to", "write"),)),
    "read": StepKind(ReadArgs, "Read bytes from a pipe, fifo, socket or mmap (or copy a "
                               "shared_array, or take a file's new records).",
                     _STREAMS + ("shared_array",) + _FILES, (ChannelUse("from_", "read"),)),
    "send": StepKind(SendArgs, "Put one message on an mqueue or queue.", _QUEUES,
                     (ChannelUse("to", "send"),  # acknowledgements come back the other way
                      ChannelUse("ack", "receive", checked_as=None))),
    "receive": StepKind(ReceiveArgs, "Take one message from an mqueue or queue.", _QUEUES,
                        (ChannelUse("from_", "receive"),
                         ChannelUse("ack", "send", checked_as="send"))),
    "increment": StepKind(IncrementArgs, "Read-modify-write an element of a shared_array.",
                          ("shared_array",),
                          (ChannelUse("array", "array"),
                           ChannelUse("lock", "sem", checked_as="acquire"))),
    "set": StepKind(SetArgs, "Store a value in a shared_array.", ("shared_array",),
                    (ChannelUse("array", "array"),)),
    "acquire": StepKind(Name, "P: wait for a semaphore and take it.", ("semaphore",),
                        (ChannelUse(None, "sem"),)),
    "release": StepKind(Name, "V: give a semaphore back.", ("semaphore",),
                        (ChannelUse(None, "sem"),)),
    "signal": StepKind(SignalArgs, "Send a signal to a worker, a group, or `parent` (the "
                                   "runtime)."),
    "wait_signal": StepKind(SignalNum, "Sleep until this signal arrives (the worker must "
                                       "catch it)."),
    "block": StepKind(list[SignalNum], "Add signals to the worker's blocked mask (they stay "
                                       "pending)."),
    "unblock": StepKind(list[SignalNum], "Remove signals from the blocked mask (pending ones "
                                         "arrive)."),
    "spawn": StepKind(Name, "Fork a child running a `spawned: true` worker's definition."),
    "echo": StepKind(EchoArgs, "Socket server: read from whichever client has data, write "
                               "it back.", ("socket",), (ChannelUse("on", "read"),)),
    "call": StepKind(CallArgs, "RPC client: send a JSON-RPC 2.0 call and wait for its answer "
                               "(resent on timeout up to `retries` times).", ("rpc",),
                     (ChannelUse("on", "call"),)),
    "serve": StepKind(Name, "RPC server: answer one call from whichever client sent one.",
                      ("rpc",), (ChannelUse(None, "serve"),)),
    "sleep": StepKind(Annotated[float, Field(ge=0, le=MAX_DURATION)], "Pause this many seconds."),
    "repeat": StepKind(RepeatArgs, "Run nested steps several times (or forever)."),
    "exit": StepKind(Annotated[int, Field(ge=0, le=255)], "End the worker with this exit "
                                                         "status."),
}


def channel_class_path(kind: str) -> tuple[str, str]:
    """(module, class name) running channels of `kind`."""
    module, _, cls = CHANNELS[kind].module.partition(":")
    return module, cls
