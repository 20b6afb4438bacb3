"""The observation: frozen dataclasses describing a process tree and its IPC as the kernel saw it.

Everything here is plain data (no open descriptors, no live handles), so an Observation can
be kept, compared with the next one, turned into JSON, or handed to another thread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SignalMasks:
    """Signal sets from /proc/PID/status, as names (libc's internal real-time signals hidden)."""

    pending: tuple[str, ...] = ()          # SigPnd: pending for the main thread
    shared_pending: tuple[str, ...] = ()   # ShdPnd: pending for the whole process
    blocked: tuple[str, ...] = ()          # SigBlk
    ignored: tuple[str, ...] = ()          # SigIgn
    caught: tuple[str, ...] = ()           # SigCgt: a handler is installed
    queued: int = 0                        # SigQ: signals queued for the process's user...
    queue_limit: int = 0                   # ...against RLIMIT_SIGPENDING


@dataclass(frozen=True)
class Wait:
    """What a sleeping process waits in: the system call, the kernel function, and in words."""

    words: str                   # e.g. "pipe read", "mq_timedsend", "futex", "sleep"
    syscall: str | None = None   # e.g. "read", from /proc/PID/syscall
    fd: int | None = None        # the descriptor the call is on, when it takes one
    wchan: str | None = None     # e.g. "pipe_read": read only when the call says too little


@dataclass(frozen=True)
class Process:
    """One process of the tree."""

    pid: int
    ppid: int
    name: str                    # comm
    state: str                   # one letter: R S D T t Z X I
    state_words: str             # "running", "sleeping", "zombie", ...
    uid: int
    threads: int
    cmdline: tuple[str, ...]
    children: tuple[int, ...]    # pids of its children (zombies included)
    zombies: int                 # how many of those children are zombies
    wait: Wait | None
    signals: SignalMasks
    cpu_seconds: float | None = None  # user + system time so far (None: unreadable)
    rss: int | None = None            # resident memory in bytes


@dataclass(frozen=True)
class Descriptor:
    """One open descriptor of one process, classified."""

    pid: int
    fd: int
    kind: str        # pipe, fifo, socket, mqueue, file, dir, device, anon, other
    target: str      # the /proc/PID/fd link text
    mode: str = ""   # "r", "w" or "rw" (from fdinfo flags), for pipes, FIFOs, queues and files
    inode: int = 0


@dataclass(frozen=True)
class End:
    """Who holds a descriptor: process and descriptor number (and its access mode)."""

    pid: int
    fd: int
    mode: str = ""


@dataclass(frozen=True)
class Pipe:
    """A pipe or FIFO, paired across processes by inode."""

    inode: int
    kind: str                  # "pipe" or "fifo"
    path: str | None           # the FIFO's path
    ends: tuple[End, ...]
    buffered: int | None       # bytes waiting (FIONREAD); None when no reader is in view
    capacity: int | None       # F_GETPIPE_SZ

    @property
    def readers(self) -> tuple[int, ...]:
        """Pids holding a read end (an O_RDWR FIFO end counts as both)."""
        return tuple(sorted({e.pid for e in self.ends if "r" in e.mode}))

    @property
    def writers(self) -> tuple[int, ...]:
        """Pids holding a write end."""
        return tuple(sorted({e.pid for e in self.ends if "w" in e.mode}))


@dataclass(frozen=True)
class Socket:
    """A socket held in the tree, with its peer and queued bytes where the kernel tells them."""

    inode: int
    family: str                  # unix, tcp, tcp6, udp, udp6
    type: str                    # stream, dgram, seqpacket
    state: str                   # listen, connected, established, unconnected, ...
    local: str
    remote: str
    holders: tuple[End, ...]
    peer_inode: int | None = None
    rx_queue: int | None = None  # bytes (connections waiting, for a listener)
    tx_queue: int | None = None
    drops: int | None = None     # UDP only


@dataclass(frozen=True)
class MessageQueue:
    """A POSIX message queue held in the tree."""

    name: str
    inode: int
    holders: tuple[End, ...]
    depth: int | None            # messages waiting (mq_curmsgs)
    capacity: int | None         # mq_maxmsg
    message_size: int | None     # mq_msgsize
    queued_bytes: int | None     # QSIZE


@dataclass(frozen=True)
class Mapping:
    """A shared mapping (POSIX shm, a mapped file, System V shm, shared anonymous memory)."""

    kind: str                    # posix_shm, file, sysv_shm, anonymous
    path: str                    # /dev/shm/NAME, the file, /SYSV0000abcd, /dev/zero
    inode: int
    size: int                    # object size when it can be stat'ed, else mapped length
    mappers: tuple[int, ...]     # pids mapping it
    deleted: bool = False
    contents: bytes | None = None  # the first bytes (POSIX shm only, up to the limit)

    @property
    def name(self) -> str:
        """The POSIX name ("/NAME") for a /dev/shm object, else the path."""
        return self.path[len("/dev/shm"):] if self.kind == "posix_shm" else self.path


@dataclass(frozen=True)
class SysV:
    """A System V object from /proc/sysvipc/ linked to the tree (semaphores: same owner)."""

    kind: str                    # shm, msg, sem
    key: int
    id: int
    owner_uid: int
    size: int = 0                # shm bytes
    attached: int = 0            # shm nattch
    messages: int = 0            # msg qnum
    queued_bytes: int = 0        # msg cbytes
    semaphores: int = 0          # sem nsems
    pids: tuple[int, ...] = ()   # tree pids that created, last used or map it


@dataclass(frozen=True)
class Observation:
    """One reading of a process tree and its IPC."""

    root: int
    taken_at: float                      # time.monotonic() when the reading started
    processes: tuple[Process, ...]
    descriptors: tuple[Descriptor, ...]
    pipes: tuple[Pipe, ...]
    sockets: tuple[Socket, ...]
    queues: tuple[MessageQueue, ...]
    mappings: tuple[Mapping, ...]
    sysv: tuple[SysV, ...]
    problems: tuple[str, ...] = field(default=())  # what could not be read, one line each

    def process(self, pid: int) -> Process | None:
        """The process with this pid, if it is in the tree."""
        return next((p for p in self.processes if p.pid == pid), None)

    def zombies_under(self, pid: int) -> int:
        """How many zombie children this process has."""
        found = self.process(pid)
        return found.zombies if found else 0

    def pipes_of(self, pid: int) -> tuple[Pipe, ...]:
        """Pipes and FIFOs this process holds an end of."""
        return tuple(p for p in self.pipes if any(e.pid == pid for e in p.ends))

    def mapping(self, path: str) -> Mapping | None:
        """The shared mapping of this path (e.g. /dev/shm/NAME)."""
        return next((m for m in self.mappings if m.path == path), None)

    def queue(self, name: str) -> MessageQueue | None:
        """The message queue of this name ("/NAME")."""
        return next((q for q in self.queues if q.name == name), None)

    def to_dict(self) -> dict:
        """Plain data for JSON (contents as hex)."""
        data = asdict(self)
        for m in data["mappings"]:
            m["contents"] = m["contents"].hex() if m["contents"] is not None else None
        return data
