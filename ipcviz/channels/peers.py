"""Who is at the other end of a socket or RPC channel: only the run's own processes are
served.

A channel on 127.0.0.1 is a port any local user can connect or send to; what they send
would be read, answered and counted as the run's own traffic. So a server asks the
kernel who the peer is before it reads a byte: the peer's socket in the kernel's tables
(/proc/net/tcp, /proc/net/udp: its owner uid and inode), and the process that holds that
inode (/proc/PID/fd). A peer is the run's when its socket is ours (same uid) and is held
by a descendant of the runtime (its workers, their children, programs and what those
started: the runtime is their subreaper), or when its port was registered by one of the
run's own clients before it connected (a client that already closed its socket, whose
inode the kernel no longer shows). A Unix-domain peer is asked with SO_PEERCRED (its
pid: a descendant of the runtime, or a client of the run that registered its pid and
has ended since). Anything
else, unknown included, is refused: a connection is closed unread, a datagram dropped.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ipcviz.host.process import read_stat

#: the /proc/net tables of each transport (IPv4 and IPv6: a v4-mapped peer is in the latter)
_TABLES = {"tcp": ("/proc/net/tcp", "/proc/net/tcp6"), "udp": ("/proc/net/udp", "/proc/net/udp6")}
_ANY = ("0.0.0.0", "::")
_UCRED = struct.Struct("3i")
#: the most ancestors followed from a peer up to the runtime
MAX_DEPTH = 64


@dataclass(frozen=True)
class Outsider:
    """A peer refused: its uid and pid as far as the kernel says (None: not known)."""

    uid: int | None
    pid: int | None


@dataclass
class Refusals:
    """An endpoint's refused peers, handed to `hook` (set by the worker's steps: it
    counts and logs them) as they come; kept until a hook is there."""

    hook: Callable[[Outsider, bool], None] | None = None
    waiting: list[tuple[Outsider, bool]] = field(default_factory=list)

    def add(self, who: Outsider, datagram: bool) -> None:
        if self.hook is None:
            self.waiting.append((who, datagram))
        else:
            self.hook(who, datagram)

    def report_to(self, hook: Callable[[Outsider, bool], None]) -> None:
        self.hook = hook
        waiting, self.waiting = self.waiting, []
        for who, datagram in waiting:
            hook(who, datagram)


@dataclass(frozen=True)
class _Row:
    local: tuple[str, int]
    remote: tuple[str, int]
    uid: int
    inode: int


def _address(text: str) -> tuple[str, int]:
    """("127.0.0.1", 8080) from the kernel's "0100007F:1F90" (IPv6: 32 hex digits,
    four host-order words; a v4-mapped address is given as IPv4)."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words), int(port, 16)
    if words[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, words[12:]), int(port, 16)
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def _rows(transport: str, port: int) -> list[_Row]:
    """The kernel's sockets of `transport` whose local or remote port is `port`."""
    needle = f":{port:04X} ".encode()
    found = []
    for path in _TABLES[transport]:
        try:
            with open(path, "rb") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            if needle not in line:
                continue
            fields = line.decode("ascii", "replace").split()
            try:
                found.append(_Row(_address(fields[1]), _address(fields[2]), int(fields[7]),
                                  int(fields[9])))
            except (IndexError, ValueError, OSError):
                continue
    return found


class Connected(Protocol):
    """A connected socket, or asyncio's wrapper of one: both name their two ends."""

    def getpeername(self) -> Any: ...

    def getsockname(self) -> Any: ...


def tcp_peer_uid(conn: Connected | None) -> int | None:
    """The uid owning the other end of TCP connection `conn` (a socket, or asyncio's
    wrapper of one), from the kernel's tables; None when they do not show it (it closed)."""
    if conn is None:
        return None
    try:
        peer = conn.getpeername()[:2]
        local = conn.getsockname()[:2]
    except (OSError, AttributeError, TypeError):
        return None
    rows = [r for r in _rows("tcp", int(peer[1]))
            if r.local == _plain(peer) and r.remote == _plain(local)]
    return rows[0].uid if rows else None


def holders(inode: int, among: list[int] | None = None) -> list[int]:
    """Pids of the processes (of `among`, else all we may look at) whose descriptors hold
    socket `inode`."""
    target = f"socket:[{inode}]"
    found = []
    pids = among if among is not None else [int(n) for n in os.listdir("/proc") if n.isdigit()]
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    found.append(pid)
                    break
            except OSError:
                continue
    return found


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from the kernel's lists of each task's children
    (/proc/PID/task/TID/children); only `pid` where the kernel has no such lists."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1 << 16:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children", "rb") as fh:
                    todo.extend(int(x) for x in fh.read().split())
            except (OSError, ValueError):
                continue
    return found


class PeerCheck:
    """Decides whether a peer is one of the run's own processes (see the module's text).

    Made by the runtime when it creates the channel (`runtime_pid`, `runtime_start`: its
    identity), inherited by every worker; `ports_path` is a file in the run's private
    directory where the run's own clients write their port before they connect."""

    def __init__(self, runtime_pid: int, runtime_start: int, ports_path: str | None):
        self.runtime = (runtime_pid, runtime_start)
        self.ports_path = ports_path
        self._known: set[tuple[int, int]] = set()  # (port, inode) found to be the run's

    # ------------------------------------------------------------- the run's clients

    def bound(self, family: int, kind: int) -> socket.socket:
        """A client socket of the run, bound (to 127.0.0.1, a port the kernel picks) and
        its port registered before it connects or sends (a Unix-domain one: its pid)."""
        sock = socket.socket(family, kind)
        try:
            if family == socket.AF_INET:
                sock.bind(("127.0.0.1", 0))
                self.register(str(sock.getsockname()[1]))
            else:
                self.register(f"pid{os.getpid()}")
        except OSError:
            sock.close()
            raise
        return sock

    def register(self, token: str) -> None:
        """Write `token` (a port, or pidN) down in the run's private file of its clients."""
        if self.ports_path is None:
            return
        fd = os.open(self.ports_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{token}\n".encode())
        finally:
            os.close(fd)

    def _registered(self, token: str) -> bool:
        if self.ports_path is None:
            return False
        try:
            fd = os.open(self.ports_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if os.fstat(fd).st_uid != os.getuid():
                return False
            data = os.read(fd, 1 << 20)
        finally:
            os.close(fd)
        return token.encode() in data.split()

    # ------------------------------------------------------------- the server's check

    def stream(self, conn: socket.socket) -> Outsider | None:
        """None when the connection `conn` (just accepted) comes from the run; else who
        it comes from."""
        try:
            if conn.family == socket.AF_UNIX:
                pid, uid, _ = _UCRED.unpack(conn.getsockopt(
                    socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
                ours = uid == os.getuid() and (self.is_member(pid)
                                               or self._registered(f"pid{pid}"))
                return None if ours else Outsider(uid, pid or None)
            peer, local = conn.getpeername()[:2], conn.getsockname()[:2]
        except OSError:
            return Outsider(None, None)
        rows = [r for r in _rows("tcp", peer[1])
                if r.local == _plain(peer) and r.remote == _plain(local)]
        return self._judge(rows, peer[1])

    def datagram(self, peer: object) -> Outsider | None:
        """None when a datagram from `peer` (recvfrom's address) comes from the run."""
        if not isinstance(peer, tuple):
            return None  # a Unix-domain sender: in the run's private directory
        host, port = _plain(peer[:2])
        rows = [r for r in _rows("udp", port) if r.local[1] == port
                and r.local[0] in (host, *_ANY)]
        return self._judge(rows, port)

    def _judge(self, rows: list[_Row], port: int) -> Outsider | None:
        if not rows:
            return Outsider(None, None)  # not in the kernel's tables: never ours
        for row in rows:
            if row.uid != os.getuid():
                return Outsider(row.uid, _first(holders(row.inode)) if row.inode else None)
        for row in rows:
            if (port, row.inode) in self._known:
                continue
            held = []
            if row.inode:  # the run's own processes first: the common case, and cheap
                held = holders(row.inode, descendants(self.runtime[0]))
                if not held or not self._runtime_alive():
                    held = holders(row.inode)
            outside = [pid for pid in held if not self.is_member(pid)]
            if outside:
                return Outsider(row.uid, outside[0])
            if not held and not self._registered(str(port)):
                return Outsider(row.uid, None)
            self._known.add((port, row.inode))
        return None

    def _runtime_alive(self) -> bool:
        stat = read_stat(self.runtime[0])
        return stat is not None and stat.start_ticks == self.runtime[1]

    def is_member(self, pid: int) -> bool:
        """Whether the runtime (same pid and start time) is `pid` or one of its ancestors."""
        for _ in range(MAX_DEPTH):
            if pid <= 1:
                return False
            stat = read_stat(pid)
            if stat is None:
                return False
            if (pid, stat.start_ticks) == self.runtime:
                return True
            pid = stat.ppid
        return False


def _plain(address: tuple) -> tuple[str, int]:
    """(host, port) with a v4-mapped IPv6 host written as IPv4."""
    host, port = address[0], int(address[1])
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:"):]
    return host, port


def _first(pids: list[int]) -> int | None:
    return pids[0] if pids else None
