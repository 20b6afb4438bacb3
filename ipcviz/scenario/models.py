"""The models of the scenario file's kinds: per channel kind the options of its entry
under `channels:`, per step kind the arguments of its value. The table of kinds
(`kinds.py`) says what each kind is to the rest of ipcviz."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ipcviz.scenario.fields import (
    MAX_ARRAY_ELEMENTS,
    MAX_BYTES_PER_OP,
    MAX_MMAP_BYTES,
    MAX_SIGNAL_COUNT,
    Model,
    Name,
    Problem,
    SignalNum,
    dtype_problem,
)

if TYPE_CHECKING:
    # schema.py builds Step from the table of kinds, which imports this module: here a
    # repeat's steps are whatever that model is (pydantic resolves the name at run time)
    Step = Any

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

    def problems(self) -> Iterator[Problem]:
        """TCP carries streams and UDP datagrams: the other `type` is a contradiction."""
        if (self.family, self.type) in (("tcp", "dgram"), ("udp", "stream")):
            streams = self.family == "tcp"
            yield (("type",), f"{self.family} sockets are {'streams' if streams else 'datagrams'}"
                              f"; use family: {'udp' if streams else 'tcp'} for "
                              f"{'datagrams' if streams else 'a stream'}")


class MqueueChannel(Model):
    kind: Literal["mqueue"]
    capacity: int = Field(10, ge=1, le=65536)
    """Maximum messages (mq_maxmsg); above /proc/sys/fs/mqueue/msg_max needs root."""
    message_size: int = Field(1024, ge=1, le=16 * 1024 * 1024)
    """Maximum bytes per message (mq_msgsize)."""


class SysvQueueChannel(Model):
    kind: Literal["sysv_queue"]
    """A System V message queue (msgget): no options; the kernel bounds it in bytes
    (/proc/sys/kernel/msgmnb) and each message to /proc/sys/kernel/msgmax bytes."""


class QueueChannel(Model):
    kind: Literal["queue"]
    capacity: Annotated[int, Field(ge=0, le=32767)] | Literal["unbounded"] = "unbounded"
    """0 is a rendezvous, N bounds the queue, 'unbounded' never blocks a sender. N is
    the start value of a POSIX semaphore: at most 32767, the value every system allows."""


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

    @property
    def dims(self) -> list[int]:
        """The shape as a list of sizes (`shape: 8` is `[8]`)."""
        return self.shape if isinstance(self.shape, list) else [self.shape]

    @property
    def bad_shape(self) -> bool:
        """The shape is reported as a problem (0 or 3+ dimensions, too many elements):
        checks that depend on it (indices, init) stay quiet rather than repeat it."""
        return len(self.dims) not in (1, 2) or math.prod(self.dims) > MAX_ARRAY_ELEMENTS

    def problems(self) -> Iterator[Problem]:
        """One or two dimensions, at most MAX_ARRAY_ELEMENTS elements, and `init:` values
        that fit the dtype, one per element when a list."""
        size = math.prod(self.dims)
        if len(self.dims) not in (1, 2):
            yield (("shape",), f"{len(self.dims)} dimensions; use 1 or 2")
        if not self.bad_shape:
            yield from self._init_problems(size)
        if size > MAX_ARRAY_ELEMENTS:
            yield (("shape",), f"{size:,} elements; the limit is {MAX_ARRAY_ELEMENTS:,}")
        if isinstance(self.init, list) and len(self.init) != size:
            yield (("init",), f"{len(self.init)} values for {size} elements")

    def _init_problems(self, size: int) -> Iterator[Problem]:
        """`init:` numbers (and arange's last one) must fit the array's dtype."""
        if self.init == "arange" and size > 1:
            problem = dtype_problem(self.dtype, size - 1)
            if problem:
                yield (("init",), f"arange counts to {size - 1}, which {problem.split(' ', 1)[1]}")
        elif isinstance(self.init, list):
            for k, value in enumerate(self.init):
                problem = dtype_problem(self.dtype, value)
                if problem:
                    yield (("init", k), problem)
                    return
        elif not isinstance(self.init, str):
            problem = dtype_problem(self.dtype, self.init)
            if problem:
                yield (("init",), problem)


class SemaphoreChannel(Model):
    kind: Literal["semaphore"]
    value: int = Field(1, ge=0, le=32767)
    """Initial value: 1 makes a mutex."""


class MmapChannel(Model):
    kind: Literal["mmap"]
    size: int = Field(4096, ge=1, le=MAX_MMAP_BYTES)
    """Bytes of the file in the run directory, mapped MAP_SHARED by every worker using it."""


class PageChannel(Model):
    kind: Literal["page"]
    shared: bool = False
    """false: MAP_PRIVATE, copied on a process's first write after fork (copy-on-write);
    true: MAP_SHARED, one page every process sees."""


class ShmChannel(Model):
    kind: Literal["shm"]
    size: int = Field(8192, ge=1, le=MAX_MMAP_BYTES)
    """Bytes of the POSIX shared memory object (shm_open, ftruncate) the runtime creates
    and leaves to the workers, who open it by its name."""


class TruncateArgs(Model):
    shm: Name
    size: int = Field(ge=0, le=MAX_MMAP_BYTES)
    """Extension: ftruncate the shm object to this many bytes (mappings keep their length;
    a page past the new end raises SIGBUS when touched)."""


class WindowChannel(Model):
    kind: Literal["window"]
    file_size: int = Field(ge=1, le=1 << 34)
    """Bytes of the file in the run directory, made sparse (ftruncate: no blocks)."""
    offset: int = Field(0, ge=0)
    """Where the window starts in the file: a multiple of the page size."""
    length: int = Field(ge=1, le=MAX_MMAP_BYTES)
    """Bytes of the window each worker maps (MAP_SHARED, read only)."""

    @model_validator(mode="after")
    def _inside_the_file(self) -> WindowChannel:
        import mmap

        if self.offset % mmap.ALLOCATIONGRANULARITY:
            raise PydanticCustomError(
                "window", "offset {offset} is not a multiple of the page size ({page})",
                {"offset": self.offset, "page": mmap.ALLOCATIONGRANULARITY})
        if self.offset + self.length > self.file_size:
            raise PydanticCustomError(
                "window", "the window ends past the end of the file: offset {offset} + "
                "length {length} = {end} > file_size {size}",
                {"offset": self.offset, "length": self.length,
                 "end": self.offset + self.length, "size": self.file_size})
        return self


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
        _check_data_or_size(self)
        return self


def _check_data_or_size(payload: _Payload) -> None:
    """A payload is given as text (`data`) or as a byte count (`size`): one of them."""
    if (payload.data is None) == (payload.size is None):
        raise PydanticCustomError("one_of", "give either 'data' (text) or 'size' (bytes)")


class WriteArgs(_Payload):
    to: Name
    every: float | None = Field(None, gt=0, le=3600)
    """Extension: pause this many seconds after the write (a paced writer)."""
    at: int = Field(0, ge=0, le=MAX_MMAP_BYTES)
    """Extension: on a shm object, the offset the bytes are stored at."""
    from_read: Name | None = None
    """Extension: write the bytes this worker's last `read` (or `echo`) on that pipe,
    FIFO or socket returned, instead of `data` or `size` (nothing before its first read)."""

    @model_validator(mode="after")
    def _data_or_size(self) -> WriteArgs:
        if self.from_read is None:
            _check_data_or_size(self)
        elif self.data is not None or self.size is not None:
            raise PydanticCustomError("one_of", "give 'from_read' alone, without 'data' or "
                                                "'size'")
        return self


class ReadArgs(Model):
    from_: Name = Field(alias="from")
    bytes: int = Field(65536, ge=1, le=MAX_BYTES_PER_OP)
    block: bool = True
    interruptible: bool = False
    """Extension: one blocking read(2) on a pipe or FIFO, as a C program makes it: a caught
    signal interrupts it (EINTR, counted, and the read is made again) unless its handler
    has SA_RESTART (the kernel restarts it, counted as restarted)."""


class DispositionArgs(Model):
    sig: SignalNum
    action: Literal["ignore", "default", "handler"]
    """Extension: SIG_IGN, SIG_DFL, or back to the handler (and `sa_flags:`) the worker's
    `handlers:` gives the signal."""


class SendArgs(_Payload):
    to: Name
    priority: int = Field(0, ge=0, le=31)
    type: int | None = Field(None, ge=1, le=4)
    """sysv_queue only, and needed there: the message's type (1 to 4)."""
    block: bool = True
    ack: Name | None = None
    """Extension: wait for an acknowledgement on this queue; resend on timeout."""
    ack_timeout: float = Field(0.1, gt=0, le=60)
    retries: int = Field(3, ge=0, le=1000)


class ReceiveArgs(Model):
    from_: Name = Field(alias="from")
    type: int | None = Field(None, ge=1, le=4)
    """sysv_queue only: take only a message of this type (1 to 4), skipping the others
    queued ahead of it; without it, the oldest message of any type."""
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
    steps: list[Step] = Field(min_length=1)  # resolved by schema.py, which builds Step
    """At least one step: a repeat of nothing spins without a step boundary, where no
    pause could hold it."""
