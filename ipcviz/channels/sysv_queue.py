"""System V message queues (msgget/msgsnd/msgrcv): kept by the kernel, bounded in bytes,
and every message carries a type, a positive number the sender chooses.

A receiver may ask for one type only: msgrcv(type=2) takes the first message of type 2
and leaves the messages of other types queued ahead of it where they are. That is what
this kind shows. The queue has no name in any file system: it is found by a number
(its key) and listed by `ipcs -q` and /proc/sysvipc/msg. The runtime registers the key
(host/ownership.py derives it from a name that carries the run id) before it creates
the queue, so every kind of end, a killed runtime too, leaves a registry the next sweep
removes it from.

What the kernel says of the queue is read each frame: the messages in it and their
bytes (msgctl IPC_STAT), and the type of each queued message, read in place with
msgrcv(MSG_COPY) (Linux; where the kernel lacks it the per-type contents are left out,
never guessed). Each receiver counts what it got by type in its own row.
"""

from __future__ import annotations

import ctypes
import errno
import time
from collections.abc import Mapping
from typing import Any

import posix_ipc
import sysv_ipc

from ipcviz.channels.base import Channel
from ipcviz.channels.endpoints import Endpoint, TypedMessageEnd
from ipcviz.channels.message import HEADER_SIZE
from ipcviz.host.ownership import sysv_key

#: message types a scenario may use: 1 to MAX_TYPE (each receiver counts per type in one
#: spare counter cell of its row, cells the other queue kinds leave unused)
MAX_TYPE = 4
#: the counter cells (of a worker's per-channel cells, telemetry/table.py) holding the
#: messages it received of type 1, 2, ... MAX_TYPE
TYPE_CELLS = (6, 7, 8, 9)
#: msgrcv flags (linux/msg.h, ipc.h): read the message at an index without taking it,
#: without waiting
MSG_COPY, IPC_NOWAIT = 0o40000, 0o4000
#: most queued messages whose type a frame reads (the kernel's byte bound keeps a queue
#: far below this with the messages ipcviz sends)
MAX_TYPES_READ = 4096
#: a worker that waits for room to send, or for a message, polls this often when it
#: cannot sit in the kernel's call (`block: false` paths never wait)
POLL_S = 0.005

_libc = ctypes.CDLL(None, use_errno=True)
_libc.msgrcv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long,
                         ctypes.c_int)
_libc.msgrcv.restype = ctypes.c_ssize_t


def queued_types(msqid: int, depth: int) -> list[int] | None:
    """The type of each message in the queue, oldest first, read in place (MSG_COPY);
    None when this kernel cannot copy a message out (no CONFIG_CHECKPOINT_RESTORE)."""
    size = sysv_limit("msgmax", 8192)  # (a copy must hold the whole message)
    buf = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + size)
    types = []
    for index in range(min(depth, MAX_TYPES_READ)):
        if _libc.msgrcv(msqid, buf, size, index, IPC_NOWAIT | MSG_COPY) < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOSYS, errno.EINVAL) and index == 0:
                return None
            break  # taken meanwhile (ENOMSG): the relations notice, the sampler reads again
        types.append(ctypes.c_long.from_buffer(buf).value)
    return types


def sysv_limit(name: str, default: int) -> int:
    """A System V queue limit from /proc/sys/kernel (msgmax, msgmnb, msgmni)."""
    try:
        with open(f"/proc/sys/kernel/{name}") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return default


def by_type(data: Mapping[str, Any], key: str) -> dict[str, int]:
    """A per-type count of the frame data ({"1": n, ...}), {} when absent."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


class SysvEndpoint(TypedMessageEnd, Endpoint):
    """send/receive on one queue for one worker. `of_type(t)` gives the same queue sending
    messages of type t, or receiving only messages of type t (msgrcv's msgtyp)."""

    #: a blocking send waits in msgsnd itself; a blocking receive in msgrcv
    waits_in_kernel = True
    #: never a rendezvous: a message is delivered once it is in the queue
    rendezvous = False

    def __init__(self, key: int, wanted: int = 0):
        self.key = key
        # (sysv_ipc refuses messages over its own max_message_size, 2048 unless told: the
        # kernel's msgmax is the limit the loader checks)
        self.queue = sysv_ipc.MessageQueue(key, max_message_size=sysv_limit("msgmax", 8192))
        self.wanted = wanted
        self._held: tuple[bytes, int] | None = None
        self.last_type = 0

    def of_type(self, wanted: int) -> SysvEndpoint:
        """This queue, sending type `wanted` or receiving only that type."""
        twin = SysvEndpoint.__new__(SysvEndpoint)
        twin.key, twin.queue, twin.wanted = self.key, self.queue, wanted
        twin._held, twin.last_type = None, 0
        return twin

    def send_now(self, message: bytes, priority: int = 0) -> bool:
        try:
            self.queue.send(message, block=False, type=self.wanted or 1)
            return True
        except sysv_ipc.BusyError:
            return False
        except sysv_ipc.ExistentialError:
            raise OSError(errno.EIDRM, "the queue was removed") from None

    def send_blocking(self, message: bytes, priority: int = 0) -> None:
        while True:
            try:
                self.queue.send(message, type=self.wanted or 1)
                return
            except sysv_ipc.ExistentialError:
                raise OSError(errno.EIDRM, "the queue was removed") from None
            except sysv_ipc.Error as exc:
                if type(exc) is not sysv_ipc.Error:  # EINTR is the bare class: go on
                    raise

    def wait_sendable(self, timeout_ms: int | None = None) -> None:
        time.sleep(POLL_S)

    def receive_now(self) -> tuple[bytes, int] | None:
        """The next message of the wanted type (any type when none is wanted), without
        waiting; as (bytes, 0): a System V queue has types, not priorities. Its type is
        kept in `last_type` for `tally_cell`."""
        got, self._held = self._held, None
        if got is None:
            try:
                got = self.queue.receive(block=False, type=self.wanted)
            except sysv_ipc.BusyError:
                return None
            except sysv_ipc.ExistentialError:
                raise OSError(errno.EIDRM, "the queue was removed") from None
        self.last_type = got[1]
        return got[0], 0

    def wait_receivable(self, timeout_ms: int | None = None) -> None:
        """Sleep in msgrcv until a message of the wanted type is there, and hold it for
        the next `receive_now` (a handled signal does not end the wait). msgrcv has no
        timeout: a `timeout:` is refused on this kind when the scenario is loaded."""
        while self._held is None:
            try:
                self._held = self.queue.receive(type=self.wanted)
            except sysv_ipc.ExistentialError:
                raise OSError(errno.EIDRM, "the queue was removed") from None
            except sysv_ipc.Error as exc:
                if type(exc) is not sysv_ipc.Error:
                    raise

    def tally_cell(self) -> int | None:
        """The counter cell the last received message adds one to: its type's."""
        t = self.last_type
        return TYPE_CELLS[t - 1] if 1 <= t <= MAX_TYPE else None

    def depth(self) -> int:
        return int(self.queue.current_messages)

    def wait_ack(self, seconds: float) -> bool:
        """Never a rendezvous: a message sent is in the queue, taken or not."""
        return True

    def for_roles(self, roles: set[str]) -> SysvEndpoint:
        return self


class SysvQueueChannel(Channel[object]):  # (it reads none of its options)
    kind = "sysv_queue"
    #: a send or receive that waits in the kernel moves its message as the wait ends
    WAIT_CHANGES_IT = True

    MESSAGE_TYPES = True

    @classmethod
    def step_problems(cls, step: str, args: Any) -> list[tuple[tuple[str, ...], str]]:
        """A send names its message's type and sends no more than msgmax bytes; there are
        no priorities, and msgrcv has no timeout."""
        out: list[tuple[tuple[str, ...], str]] = []
        if step == "send":
            if args.type is None:
                out.append(((), f"a send to a sysv_queue needs `type:` (1 to {MAX_TYPE}): "
                                "every System V message has a positive type"))
            if args.priority:
                out.append((("priority",), "a sysv_queue has message types, not priorities "
                                           "(use `type:`)"))
            size, most = len(args.payload_bytes()) + HEADER_SIZE, sysv_limit("msgmax", 8192)
            if size > most:
                out.append(((), f"a {size}-byte message (with its {HEADER_SIZE}-byte header) "
                                f"is over /proc/sys/kernel/msgmax ({most})"))
        if step == "receive" and args.timeout is not None:
            out.append((("timeout",), "msgrcv has no timeout: a sysv_queue receive waits, "
                                      "or with `block: false` returns at once"))
        return out

    def create(self) -> None:
        def make(name: str) -> sysv_ipc.MessageQueue:
            try:
                return sysv_ipc.MessageQueue(sysv_key(name), sysv_ipc.IPC_CREX, mode=0o600)
            except sysv_ipc.ExistentialError:  # the key is taken: another name, another key
                raise posix_ipc.ExistentialError(name) from None

        try:
            self.ipc_name, self.queue = self.registry.create_ipc("sysv_msg", self.name, make)
        except (OSError, sysv_ipc.Error, posix_ipc.Error) as exc:
            raise RuntimeError(
                f"channel '{self.name}': the kernel refused a System V message queue ({exc}); "
                f"limit: /proc/sys/kernel/msgmni={sysv_limit('msgmni', 0)}") from None
        self.key = self.queue.key
        self.max_depth = 0
        self.copies = True  # MSG_COPY works here (until the kernel says otherwise)

    def attach(self, roles: set[str]) -> SysvEndpoint:
        return SysvEndpoint(self.key)

    def observe(self) -> dict:
        """The kernel's view: messages and bytes in the queue, its byte bound and id, and
        the type of each queued message (counted per type)."""
        try:
            depth, used = self.queue.current_messages, _queued_bytes(self.queue.id)
            capacity = self.queue.max_size
        except sysv_ipc.ExistentialError:
            depth, used, capacity = 0, 0, 0
        self.max_depth = max(self.max_depth, depth)
        out: dict[str, Any] = {"depth": depth, "max_depth": self.max_depth,
                               "bytes_queued": used, "byte_capacity": capacity,
                               "key": f"0x{self.key:08x}", "msqid": self.queue.id}
        types = queued_types(self.queue.id, depth) if self.copies and depth else []
        if types is None:
            self.copies = False
        else:
            out["queued_by_type"] = {str(t): types.count(t) for t in sorted(set(types))}
        return out

    @classmethod
    def counted(cls, column: Any) -> dict:
        """What the workers counted beyond the family's counters: received per type."""
        return {"received_by_type": {str(t): int(column(cell).sum())
                                     for t, cell in enumerate(TYPE_CELLS, 1)
                                     if int(column(cell).sum())}}

    @classmethod
    def derived(cls, data: dict) -> None:
        """Sent per type: received + still in the queue (both exact at one moment)."""
        if "queued_by_type" not in data:
            return
        got, queued = by_type(data, "received_by_type"), by_type(data, "queued_by_type")
        data["sent_by_type"] = {t: got.get(t, 0) + queued.get(t, 0)
                                for t in sorted(set(got) | set(queued), key=int)}

    def close(self) -> None:
        """Nothing to close: the queue has no descriptor (the registry removes it)."""


def _queued_bytes(msqid: int) -> int:
    """Bytes in the queue's messages (msg_cbytes), from /proc/sysvipc/msg."""
    try:
        with open("/proc/sysvipc/msg") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and fields[1] == str(msqid):
                    return int(fields[3])
    except (OSError, ValueError):
        pass
    return 0


