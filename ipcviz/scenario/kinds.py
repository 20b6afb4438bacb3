"""The one table of kinds: every step kind and every channel kind, with what the rest of
ipcviz needs to know about it.

Per channel kind: its options (the model of its entry under `channels:`, in
`models.py`), the module that runs it, its counters, its family (what it is: a stream, a
queue, memory, a lock, rpc; the UI decides the panel from it) and its typed state, whose
fields are its keys: the summary's, the ones `expect:` may check, and their JSON types
in recordings (channels/state_keys.py). Per step kind:
its arguments (the model of its value), the channels it names (which field, which role
that gives its worker on the channel, which channel kinds it accepts), a line saying
what it does, and the operations it performs (`Op`: the name a worker's "doing now" and
"next" cells carry, whether waiting in it means blocked, and the words the `next` column
shows for it). `schema.py` builds the `Step` and channel models from here, the loader
checks references with it (`validate.py`) and works out the plan (`plan.py`), the
telemetry table numbers the operations from it (`table.py`); the runtime, the workers
and the sampler only read those.

Adding a step kind: its args model (`models.py`) and one `STEPS` entry here, plus its
handler in one module of `ipcviz/worker/steps/` (registered with `@handles` or
`@compiles`, and `@describes` when it has operations). Adding a channel kind: its options
model and one `CHANNELS` entry here, plus its module in `ipcviz/channels/` (and its state,
if its family's does not fit; and a panel, if it is of a new family).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import Field

from ipcviz.channels.base import Channel
from ipcviz.channels.families import state_of
from ipcviz.channels.memory_state import ArrayState, MmapState, PageState, ShmState, WindowState
from ipcviz.channels.state import ChannelState, DictState, FileState, PipeState, SocketState
from ipcviz.scenario.fields import MAX_DURATION, Model, Name, SignalNum
from ipcviz.scenario import models as m
from ipcviz.scenario import op_words as w
from ipcviz.signals import signal_name
from ipcviz.scenario.op_words import Words

__all__ = ["CHANNELS", "COMPARED_FAMILIES", "STEPS", "ChannelKind", "ChannelUse", "Op", "StepKind",
           "channel_class", "channel_class_path", "operations", "state_class"]


@dataclass(frozen=True)
class ChannelKind:
    """What a channel kind is to the rest of ipcviz."""

    options: type[Model]
    #: "module:Class" of the class that runs it (ipcviz/channels/), imported when needed
    module: str
    #: which per-worker counters it has: "bytes" (written/read), "messages" (sent/received),
    #: "array" (increments), "lock" (acquired/released), "rpc" (calls and answers)
    counters: str
    #: what it is, whose state it has (channels/families.py) and so where the live view
    #: shows it (the UI decides): "stream", "queue", "memory", "lock", "rpc"
    family: str
    #: the steps the loader suggests for it when a step does not work on it
    hint: str
    #: the option naming the worker that serves it: that worker (and the children it
    #: spawns) get the role "server" on it instead of their steps' roles
    server_option: str | None = None
    #: extra per-worker counters summed into the channel's view beyond its family's,
    #: by their name in the telemetry table (`table.COUNTER_CELLS`): a socket's write and
    #: read calls (message boundaries), a file's records and torn reads
    sums: tuple[str, ...] = ()
    #: each reader's last read is kept (its first bytes) and shown beside the stream
    last_read: bool = False
    #: what the data goes through, in the lesson's words (the speed panel); "" for its
    #: name
    label: str = ""
    #: descriptors the runtime holds for one channel of it (they count against
    #: fields.MAX_CHANNEL_DESCRIPTORS)
    descriptors: int = 0
    #: the typed state its frame data crosses to the UI, the summary and recordings as
    #: (channels/state.py); None: its family's (channels/families.py). Its fields are the
    #: kind's keys: their JSON types and the ones a check may name (channels/state_keys.py)
    state: type[ChannelState] | None = None
    #: the keys of its summary entry an `expect:` may check (`kind` aside), for a kind
    #: whose state's fields do not say (a family's state it shares); None: its state's
    #: fields marked `Checked`
    keys: frozenset[str] | None = None
    #: the type of each key of its frame data, as a replay checks it (float: any number);
    #: None: its state's fields' (channels/state_keys.py)
    data: Mapping[str, Any] | None = None
    #: the keys of `keys` whose value is a mapping, with the names of its items (an
    #: `expect:` checks one item: {KEY: {ITEM: VALUE}})
    item_names: Mapping[str, tuple[str, ...]] | None = None
    #: a byte stream whose ends are plain descriptors (`read_fd`, `write_fd`): a program's
    #: standard input or output can be one, and the stream steps' fast paths use them
    fd_ends: bool = False
    #: how `write` and `read` steps move bytes through it (worker/steps/streams.py has a
    #: writer and a reader per way): "stream" (its endpoint's write_some/read_some),
    #: "socket" (a stream counting calls and refused peers), "mapped" (an mmap file),
    #: "page", "window", "file" (records), "shm" (by name), "array" (a read copies it)
    io: str = "stream"
    #: a loop of one send or receive on it runs as a burst (worker/bursts.py)
    message_bursts: bool = False


#: the counter families `compare:` can race (they move bytes or messages); such a
#: channel may have its system calls counted too (`count_syscalls`)
COMPARED_FAMILIES = ("bytes", "messages")


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
class Op:
    """One operation a step performs, as the telemetry table's OP and NEXT_OP cells name it.

    `words(on, arg, shape)` is what the `next` column says of a worker held before it:
    `on` the channel's name ("" for none), `arg` the detail the worker's describer gave
    (bytes, a flat array index or -1, a signal, milliseconds, ...), `shape` the channel's
    array shape (() unless it is an array)."""

    name: str
    words: Words
    #: waiting in it while the kernel says the process sleeps means blocked on it
    blocks: bool = False


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
    #: the operations it performs (a worker's OP cell while it runs, and what a held
    #: worker's NEXT_OP cell says it does next)
    ops: tuple[Op, ...] = ()

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
_QUEUES = ("mqueue", "queue", "sysv_queue")
_FILES = ("file",)
_PAGES = ("page",)

CHANNELS: dict[str, ChannelKind] = {
    "pipe": ChannelKind(m.PipeChannel, "ipcviz.channels.pipe:PipeChannel", "bytes", "stream",
                        "write/read", last_read=True, label="pipe", descriptors=2,
                        fd_ends=True, state=PipeState),
    "fifo": ChannelKind(m.FifoChannel, "ipcviz.channels.fifo:FifoChannel", "bytes", "stream",
                        "write/read", last_read=True, label="FIFO", descriptors=2,
                        fd_ends=True, state=PipeState),
    "socket": ChannelKind(m.SocketChannel, "ipcviz.channels.socket_channel:SocketChannel",
                          "bytes", "stream", "write/read/echo", server_option="server",
                          sums=("writes", "reads", "peers_refused"), last_read=True,
                          label="socket", descriptors=1, io="socket", state=SocketState),
    "mqueue": ChannelKind(m.MqueueChannel, "ipcviz.channels.mqueue:MqueueChannel",
                          "messages", "queue", "send/receive", label="POSIX message queue",
                          descriptors=1, message_bursts=True),
    "queue": ChannelKind(m.QueueChannel, "ipcviz.channels.queue:QueueChannel", "messages",
                         "queue", "send/receive", label="queue"),
    "sysv_queue": ChannelKind(
        m.SysvQueueChannel, "ipcviz.channels.sysv_queue:SysvQueueChannel", "messages",
        "queue", "send/receive", label="System V message queue",
        item_names={key: ("1", "2", "3", "4") for key in (
            "sent_by_type", "received_by_type", "queued_by_type")}),
    "shared_array": ChannelKind(m.SharedArrayChannel,
                                "ipcviz.channels.shared_array:SharedArrayChannel", "array",
                                "memory", "increment/set", io="array", state=ArrayState),
    "semaphore": ChannelKind(m.SemaphoreChannel, "ipcviz.channels.semaphore:SemaphoreChannel",
                             "lock", "lock", "acquire/release"),
    "mmap": ChannelKind(m.MmapChannel, "ipcviz.channels.mmap_file:MmapChannel", "bytes",
                        "memory", "write/read", label="shared memory (mmap)", io="mapped",
                        state=MmapState),
    "file": ChannelKind(m.FileChannel, "ipcviz.channels.file_channel:FileChannel", "bytes",
                        "stream", "write/read", label="plain file",
                        sums=("records_written", "records_read", "torn_reads"), io="file",
                        state=FileState),
    "rpc": ChannelKind(m.RpcChannel, "ipcviz.channels.rpc:RpcChannel", "rpc", "rpc",
                       "call/serve", server_option="server", sums=("peers_refused",)),
    "shm": ChannelKind(m.ShmChannel, "ipcviz.channels.shm_object:ShmObjectChannel", "bytes",
                       "memory", "write/read/truncate/unlink", last_read=True, io="shm",
                       state=ShmState),
    "page": ChannelKind(
        m.PageChannel, "ipcviz.channels.page:PageChannel", "bytes", "memory", "write/read",
        last_read=True, label="one page of memory", io="page", state=PageState),
    "window": ChannelKind(
        m.WindowChannel, "ipcviz.channels.window:WindowChannel", "bytes", "memory", "read",
        label="a window of a mapped file", io="window", state=WindowState),
}

STEPS: dict[str, StepKind] = {
    "write": StepKind(m.WriteArgs, "Write bytes to a pipe, fifo, socket or mmap channel (or "
                                 "append a record to a file, or store them at a page's "
                                 "start).",
                      _STREAMS + _FILES + _PAGES, (ChannelUse("to", "write"),),
                      (Op("write", w.write, blocks=True),)),
    "read": StepKind(m.ReadArgs, "Read bytes from a pipe, fifo, socket or mmap (or copy a "
                               "shared_array, take a file's new records, a page's "
                               "first bytes, or touch a window's pages).",
                     _STREAMS + ("shared_array",) + _FILES + _PAGES + ("window",),
                     (ChannelUse("from_", "read"),),
                     (Op("read", lambda on, arg, shape: f"read up to {arg} B from {on}",
                         blocks=True),)),
    "send": StepKind(m.SendArgs, "Put one message on an mqueue or queue.", _QUEUES,
                     (ChannelUse("to", "send"),  # acknowledgements come back the other way
                      ChannelUse("ack", "receive", checked_as=None)),
                     (Op("send", lambda on, arg, shape: f"send {arg} B to {on}", blocks=True),)),
    "receive": StepKind(m.ReceiveArgs, "Take one message from an mqueue or queue.", _QUEUES,
                        (ChannelUse("from_", "receive"),
                         ChannelUse("ack", "send", checked_as="send")),
                        (Op("receive", lambda on, arg, shape: f"receive from {on}",
                            blocks=True),)),
    "increment": StepKind(m.IncrementArgs, "Read-modify-write an element of a shared_array.",
                          ("shared_array",),
                          (ChannelUse("array", "array"),
                           ChannelUse("lock", "sem", checked_as="acquire")),
                          # a worker held before an increment loads first, then stores
                          (Op("increment", w.at("increment")), Op("load", w.at("load")),
                           Op("store", w.at("store")))),
    "set": StepKind(m.SetArgs, "Store a value in a shared_array.", ("shared_array",),
                    (ChannelUse("array", "array"),), (Op("set", w.at("set")),)),
    "acquire": StepKind(Name, "P: wait for a semaphore and take it.", ("semaphore",),
                        (ChannelUse(None, "sem"),),
                        (Op("acquire", lambda on, arg, shape: f"acquire {on}", blocks=True),)),
    "release": StepKind(Name, "V: give a semaphore back.", ("semaphore",),
                        (ChannelUse(None, "sem"),),
                        (Op("release", lambda on, arg, shape: f"release {on}"),)),
    "signal": StepKind(m.SignalArgs, "Send a signal to a worker, a group, or `parent` (the "
                                   "runtime).",
                       ops=(Op("signal", lambda on, arg, shape: f"send {signal_name(arg)}"),)),
    "wait_signal": StepKind(SignalNum, "Sleep until this signal arrives (the worker must "
                                       "catch it).",
                            ops=(Op("wait_signal",
                                    lambda on, arg, shape: f"wait for {signal_name(arg)}",
                                    blocks=True),)),
    "block": StepKind(list[SignalNum], "Add signals to the worker's blocked mask (they stay "
                                       "pending).", ops=(Op("block", w.masks("block")),)),
    "unblock": StepKind(list[SignalNum], "Remove signals from the blocked mask (pending ones "
                                         "arrive).", ops=(Op("unblock", w.masks("unblock")),)),
    "spawn": StepKind(Name, "Fork a child running a `spawned: true` worker's definition.",
                      ops=(Op("spawn", lambda on, arg, shape: "spawn a child"),)),
    "echo": StepKind(m.EchoArgs, "Socket server: read from whichever client has data, write "
                               "it back.", ("socket",), (ChannelUse("on", "read"),),
                     (Op("echo", lambda on, arg, shape: f"echo on {on}", blocks=True),)),
    "call": StepKind(m.CallArgs, "RPC client: send a JSON-RPC 2.0 call and wait for its answer "
                               "(resent on timeout up to `retries` times).", ("rpc",),
                     (ChannelUse("on", "call"),), (Op("call", w.call, blocks=True),)),
    "serve": StepKind(Name, "RPC server: answer one call from whichever client sent one.",
                      ("rpc",), (ChannelUse(None, "serve"),),
                      (Op("serve", lambda on, arg, shape: f"answer a call on {on}", blocks=True),)),
    "sleep": StepKind(Annotated[float, Field(ge=0, le=MAX_DURATION)], "Pause this many seconds.",
                      ops=(Op("sleep", lambda on, arg, shape: f"sleep {arg / 1000:g} s"),)),
    "repeat": StepKind(m.RepeatArgs, "Run nested steps several times (or forever)."),
    "exit": StepKind(Annotated[int, Field(ge=0, le=255)], "End the worker with this exit "
                                                         "status.",
                     ops=(Op("exit", lambda on, arg, shape: f"exit {arg}"),)),
    "truncate": StepKind(m.TruncateArgs, "Set a shm object's size (ftruncate).", ("shm",),
                         (ChannelUse("shm", "write"),),
                         (Op("truncate", lambda on, arg, shape: f"truncate {on} to {arg} B"),)),
    "unlink": StepKind(Name, "Remove a shm object's name (shm_unlink).", ("shm",),
                       (ChannelUse(None, "write"),),
                       (Op("unlink", lambda on, arg, shape: f"unlink {on}"),)),
    "disposition": StepKind(m.DispositionArgs, "Set a signal's action now, as signal() or "
                                               "sigaction() does: ignore (SIG_IGN), default "
                                               "(SIG_DFL) or back to its handler.",
                            ops=(Op("disposition", w.disposition),)),
}


def register_channel(name: str, kind: ChannelKind) -> None:
    """Add a channel kind to the table: its row, and its name to the channel kinds of the
    steps its `hint` names ("write/read"). Called by a module named in
    $IPCVIZ_CHANNEL_KINDS as this table is imported, before the scenario format
    (schema.py) and the tables that derive from this one are built."""
    if name in CHANNELS:
        raise RuntimeError(f"channel kind {name!r} is registered twice")
    CHANNELS[name] = kind
    for step in kind.hint.split("/"):
        if step in STEPS and name not in STEPS[step].channels:
            STEPS[step] = replace(STEPS[step], channels=STEPS[step].channels + (name,))


#: modules that register channel kinds of their own when the table is imported (a comma-
#: separated list of importable module names): how a kind is added without changing
#: ipcviz (docs/adding-a-channel-kind.md); like PYTHONPATH, it runs the code it names
KINDS_ENV = "IPCVIZ_CHANNEL_KINDS"


#: a shm object is written and read too (channels/shm_object.py: by its name, at offsets)
for _step in ("write", "read"):
    STEPS[_step] = replace(STEPS[_step], channels=STEPS[_step].channels + ("shm",))


def channel_class_path(kind: str) -> tuple[str, str]:
    """(module, class name) running channels of `kind`."""
    module, _, cls = CHANNELS[kind].module.partition(":")
    return module, cls


def channel_class(kind: str) -> type[Channel]:
    """The class that runs channels of `kind` (a kind of the table; the loader accepts no
    other), imported on first use."""
    module, name = channel_class_path(kind)
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Channel) and cls.kind == kind, f"{module}.{name} runs {cls.kind!r}"
    return cls


def state_class(kind: str) -> type[ChannelState]:
    """The typed state of a channel kind (its row's, or its family's); a kind this ipcviz
    does not know (a newer recording's) keeps its keys in a DictState."""
    row = CHANNELS.get(kind)
    return DictState if row is None else state_of(row.state, row.family)


def operations() -> tuple[Op, ...]:
    """Every step kind's operations, in the table's order (the telemetry table numbers
    them after its own states)."""
    return tuple(op for step in STEPS.values() for op in step.ops)


def _import_kinds(names: str) -> None:
    """Import each module of $IPCVIZ_CHANNEL_KINDS (each calls register_channel()); one
    that cannot be imported ends the program with one line and status 2."""
    for module in filter(None, (name.strip() for name in names.split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            sys.stderr.write(f"ipcviz: {KINDS_ENV} names {module!r}, which cannot be "
                             f"imported ({exc})\n")
            raise SystemExit(2) from None


_import_kinds(os.environ.get(KINDS_ENV, ""))

#: the kinds whose ends are plain descriptors (ChannelKind.fd_ends): pipe, fifo
FD_STREAMS = tuple(kind for kind, row in CHANNELS.items() if row.fd_ends)
