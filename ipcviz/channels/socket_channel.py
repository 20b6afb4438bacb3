"""Stream sockets: Unix-domain (a socket file in the run directory, mode 0600) or TCP on
127.0.0.1 only. The runtime binds and listens before the workers start; the `server`
worker accepts, every other worker connects on first use. Both directions work on one
connection.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket

from ipcviz.channels.base import Channel
from ipcviz.channels.peers import PeerCheck, Refusals
from ipcviz.channels.tcp_table import accept_queue
from ipcviz.host.process import start_ticks

#: in the run's directory: the ports of the run's own clients (see peers.py)
PORTS_FILE = "ports"


class ServerEndpoint:
    """The server side: accepts clients, reads from whichever has data, answers it.

    A spawned handler (`one_client`) owns one connection at a time: a server worker
    per client, the classic pre-fork model. A connection from outside the run (`peers`)
    is closed unread and reported to `refusals`.
    """

    def __init__(self, listener: socket.socket, one_client: bool = False,
                 peers: PeerCheck | None = None):
        self.listener = listener
        self.listener.setblocking(False)
        self.one_client = one_client
        self.peers = peers
        self.refusals = Refusals()
        self.clients: list[socket.socket] = []
        self.last: socket.socket | None = None
        self._pending = b""
        self._pending_from: socket.socket | None = None

    def _accept_all(self) -> None:
        while not (self.one_client and self.clients):
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            outsider = self.peers.stream(conn) if self.peers is not None else None
            if outsider is not None:
                conn.close()
                self.refusals.add(outsider, False)
                continue
            conn.setblocking(False)
            self.clients.append(conn)

    def read_some(self, nbytes: int) -> bytes | None:
        """Bytes from the first client that has some; None if none has (b'' never: a
        client that closed is just dropped)."""
        self._accept_all()
        for conn in list(self.clients):
            try:
                data = conn.recv(nbytes)
            except BlockingIOError:
                continue
            except ConnectionError:
                data = b""
            if not data:
                self.clients.remove(conn)
                conn.close()
                continue
            self.last = conn
            return data
        return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        if not (self.one_client and self.clients):
            poller.register(self.listener, select.POLLIN)
        for conn in self.clients:
            poller.register(conn, select.POLLIN)
        poller.poll(timeout_ms)

    def write_some(self, data: memoryview) -> int:
        target = self.last or (self.clients[0] if self.clients else None)
        if target is None:
            self._accept_all()
            return 0
        try:
            return target.send(data)
        except BlockingIOError:
            return 0

    def wait_writable(self, timeout_ms: int | None = 200) -> None:
        target = self.last or (self.clients[0] if self.clients else None)
        poller = select.poll()
        poller.register(target or self.listener, select.POLLOUT if target else select.POLLIN)
        poller.poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> ServerEndpoint:
        """A spawned handler: the same listener, its own (single) connection."""
        return ServerEndpoint(self.listener, one_client=True, peers=self.peers)


class ClientEndpoint:
    """A client: connects on first use, then reads and writes on that one connection."""

    def __init__(self, family: int, address: object, peers: PeerCheck | None = None):
        self.family = family
        self.address = address
        self.peers = peers
        self.conn: socket.socket | None = None

    def _connected(self) -> socket.socket:
        if self.conn is None:
            conn = (self.peers.bound(self.family, socket.SOCK_STREAM) if self.peers
                    else socket.socket(self.family, socket.SOCK_STREAM))
            conn.connect(self.address)  # blocking: the listener's backlog accepts at once
            conn.setblocking(False)
            self.conn = conn
        return self.conn

    def write_some(self, data: memoryview) -> int:
        try:
            return self._connected().send(data)
        except BlockingIOError:
            return 0

    def wait_writable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        poller.register(self._connected(), select.POLLOUT)
        poller.poll(timeout_ms)

    def read_some(self, nbytes: int) -> bytes | None:
        try:
            return self._connected().recv(nbytes)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            return b""

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        poller.register(self._connected(), select.POLLIN)
        poller.poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> ClientEndpoint:
        return ClientEndpoint(self.family, self.address, self.peers)


class DatagramServer:
    """The receiving side of a datagram socket: one datagram per read (its boundary kept),
    replies go to whoever sent the last one. A datagram from outside the run (`peers`)
    is dropped and reported to `refusals`."""

    def __init__(self, sock: socket.socket, peers: PeerCheck | None = None):
        self.sock = sock
        self.sock.setblocking(False)
        self.peer: object = None
        self.peers = peers
        self.refusals = Refusals()

    def read_some(self, nbytes: int) -> bytes | None:
        while True:
            try:
                data, peer = self.sock.recvfrom(max(nbytes, 65536))
            except (BlockingIOError, InterruptedError):
                return None
            outsider = self.peers.datagram(peer) if self.peers is not None else None
            if outsider is None:
                self.peer = peer
                return data[:nbytes]
            self.refusals.add(outsider, True)

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.poll(timeout_ms)

    def write_some(self, data: memoryview) -> int:
        if self.peer is None:  # nobody has sent anything yet: nobody to answer
            return 0
        try:
            return self.sock.sendto(data, self.peer)
        except (BlockingIOError, ConnectionRefusedError, FileNotFoundError):
            return 0

    def wait_writable(self, timeout_ms: int | None = 200) -> None:
        poller = select.poll()
        poller.register(self.sock, select.POLLOUT)
        poller.poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> DatagramServer:
        return DatagramServer(self.sock, self.peers)


class DatagramClient:
    """A sender of datagrams: its own socket, connected to the server's address (so it
    can also read the answers sent back to it)."""

    def __init__(self, family: int, address: object, peers: PeerCheck | None = None):
        self.family = family
        self.address = address
        self.peers = peers
        self.sock: socket.socket | None = None

    def _socket(self) -> socket.socket:
        if self.sock is None:
            sock = (self.peers.bound(self.family, socket.SOCK_DGRAM) if self.peers
                    else socket.socket(self.family, socket.SOCK_DGRAM))
            if self.family == socket.AF_UNIX:
                sock.bind("")  # an autobound (abstract) address: answers can come back
            sock.connect(self.address)
            sock.setblocking(False)
            self.sock = sock
        return self.sock

    def write_some(self, data: memoryview) -> int:
        """One datagram: all of it or, when the kernel has no room now, nothing."""
        try:
            return self._socket().send(data)
        except BlockingIOError:
            return 0
        except ConnectionRefusedError:  # (UDP) an earlier datagram found no receiver
            return len(data)  # this one went out (and is lost): datagrams are not checked

    def wait_writable(self, timeout_ms: int | None = 200) -> None:
        poller = select.poll()
        poller.register(self._socket(), select.POLLOUT)
        poller.poll(timeout_ms)

    def read_some(self, nbytes: int) -> bytes | None:
        try:
            return self._socket().recv(max(nbytes, 65536))[:nbytes]
        except (BlockingIOError, ConnectionRefusedError):
            return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        poller.register(self._socket(), select.POLLIN)
        poller.poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> DatagramClient:
        return DatagramClient(self.family, self.address, self.peers)


class SocketChannel(Channel):
    kind = "socket"
    COUNTERS = ("bytes_written", "bytes_read", "writes", "reads")

    @property
    def datagrams(self) -> bool:
        return self.spec.family == "udp" or self.spec.type == "dgram"

    def create(self) -> None:
        self.accept_seen = 0  # the most connections seen waiting in the accept queue
        directory = getattr(self.registry, "directory", None)
        self.peers = PeerCheck(os.getpid(), start_ticks(os.getpid()) or 0,
                               str(directory / PORTS_FILE) if directory else None)
        if self.datagrams:
            self._create_datagram()
            return
        if self.spec.family == "unix":
            self.path = str(self.registry.path(self.name))
            self.registry.add("socket", self.path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                listener.bind(self.path)
            finally:
                os.umask(old)
            self.address: object = self.path
            self.family = socket.AF_UNIX
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # a restarted server binds this port again while the dead one's connections
            # linger (FIN_WAIT, TIME_WAIT): those must carry the option too
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            self.address = listener.getsockname()
            self.family = socket.AF_INET
            self.path = f"127.0.0.1:{self.address[1]}"  # type: ignore[index]
        listener.listen(128)
        listener.set_inheritable(True)
        self.listener = listener

    def _create_datagram(self) -> None:
        """The server's socket, bound before the workers start: a path in the run's
        private directory (unix) or 127.0.0.1 and a port the kernel picks (udp)."""
        if self.spec.family == "unix":
            self.path = str(self.registry.path(self.name))
            self.registry.add("socket", self.path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            old = os.umask(0o177)
            try:
                sock.bind(self.path)
            finally:
                os.umask(old)
            self.address = self.path
            self.family = socket.AF_UNIX
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            self.address = sock.getsockname()
            self.family = socket.AF_INET
            self.path = f"127.0.0.1:{self.address[1]}"  # type: ignore[index]
        if self.spec.receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.spec.receive_buffer)
        sock.set_inheritable(True)
        self.listener = sock
        self.inode = os.fstat(sock.fileno()).st_ino
        self.drops = 0

    def child_fds(self, roles: set[str]) -> set[int]:
        return {self.listener.fileno()} if "server" in roles else set()

    def attach(self, roles: set[str]):
        if self.datagrams:
            if "server" in roles:
                return DatagramServer(self.listener, self.peers)
            return DatagramClient(self.family, self.address, self.peers)
        if "server" in roles:
            return ServerEndpoint(self.listener, peers=self.peers)
        return ClientEndpoint(self.family, self.address, self.peers)

    def release(self, needed: set[str]) -> None:
        """No live server: close the listener, so a client's connect() is refused for real."""
        if "server" not in needed and self.listener.fileno() >= 0:
            self.listener.close()

    def reopen(self, role: str, holders: list[tuple[int, set[str]]]) -> None:
        """A server coming back after its listener was closed (it had died, then `restart`):
        listen again at the same address, which the clients already know (the socket
        file in the run's private directory, or the same 127.0.0.1 port)."""
        if role != "server" or self.listener.fileno() >= 0:
            return
        kind = socket.SOCK_DGRAM if self.datagrams else socket.SOCK_STREAM
        sock = socket.socket(self.family, kind)
        try:
            if self.family == socket.AF_UNIX:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # the dead listener's file, in our own run dir
                old = os.umask(0o177)
                try:
                    sock.bind(self.path)
                finally:
                    os.umask(old)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(self.address)
            if not self.datagrams:
                sock.listen(128)
            elif self.spec.receive_buffer:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.spec.receive_buffer)
        except OSError:
            sock.close()  # the port was taken meanwhile: the server will find no listener
            return
        sock.set_inheritable(True)
        self.listener = sock
        if self.datagrams:
            self.inode = os.fstat(sock.fileno()).st_ino

    def observe(self) -> dict:
        if self.datagrams:
            return {"address": self.path, "family": self.spec.family, "type": "dgram",
                    "server": self.spec.server, "dropped": self._drops()}
        data = {"address": self.path, "family": self.spec.family, "server": self.spec.server,
                "connections": self._connections()}
        if self.family == socket.AF_INET:  # the listener's accept queue, as `ss -lt` shows it
            waiting = accept_queue(self.address[1]) if self.listener.fileno() >= 0 else None
            self.accept_seen = max(self.accept_seen, waiting or 0)
            data.update(accept_queue=waiting or 0, max_accept_queue=self.accept_seen)
        return data

    def _udp_row(self) -> list[str] | None:
        """The server socket's line of /proc/net/udp (found by its inode)."""
        try:
            with open("/proc/net/udp") as fh:
                for line in fh.readlines()[1:]:
                    fields = line.split()
                    if len(fields) >= 13 and fields[9] == str(self.inode):
                        return fields
        except OSError:
            pass
        return None

    def _drops(self) -> int:
        """Datagrams the kernel dropped because the receive buffer was full (UDP's drops
        counter; a Unix datagram sender blocks instead, so none are dropped). Kept after
        the socket is gone."""
        if self.spec.family == "udp" and self.listener.fileno() >= 0:
            row = self._udp_row()
            if row is not None:
                self.drops = int(row[12])
        return self.drops

    def _connections(self) -> int:
        """Connections open now, from the kernel's tables (/proc/net/tcp, /proc/net/unix)."""
        if self.listener.fileno() < 0:
            return 0
        try:
            if self.family == socket.AF_INET:
                port = f"{self.address[1]:04X}"  # type: ignore[index]
                with open("/proc/net/tcp") as fh:
                    rows = [line.split() for line in fh.readlines()[1:]]
                return sum(1 for r in rows if r[1].endswith(":" + port) and r[3] == "01")
            with open("/proc/net/unix") as fh:
                rows = [line.split() for line in fh.readlines()[1:]]
            return max(0, sum(1 for r in rows if len(r) >= 8 and r[7] == self.path) - 1)
        except OSError:
            return 0

    def close(self) -> None:
        self.listener.close()
