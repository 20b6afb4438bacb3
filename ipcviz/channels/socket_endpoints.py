"""The ends of a socket channel a worker reads and writes through: a stream server that
accepts the run's clients and a client that connects on first use; a datagram receiver
that answers whoever sent last and a sender with a socket of its own. The servers refuse
what comes from outside the run (peers.py); reads and writes do not block (the sockets
are non-blocking once set up): the step handlers wait with `wait_readable` and
`wait_writable`.
"""

from __future__ import annotations

import select
import socket

from ipcviz.channels.endpoints import Endpoint, StreamEnd
from ipcviz.channels.peers import PeerCheck, Refusals

#: where a socket channel's server is: a path (unix) or (host, port) (tcp and udp)
SocketAddress = str | tuple[str, int]


class ServerEndpoint(StreamEnd, Endpoint):
    """The server side: accepts clients, reads from whichever has data, answers it.

    A spawned handler (`one_client`) owns one connection at a time: a server worker
    per client, the classic pre-fork model. A connection from outside the run (`peers`)
    is closed unread and reported to `refusals`.

    A read looks for new connections only when it needs to: with no client yet, when no
    client has data, when the last wait saw one arrive, and otherwise every ACCEPT_EVERY
    reads (so a busy client cannot keep a second one waiting for long). An accept() that
    finds nobody costs a system call and an exception, which before every read of a
    busy stream was a good part of the read's own cost. The poll objects the waits use
    are made once and made again only when the connections change.
    """

    #: reads of connected clients between two looks for new connections
    ACCEPT_EVERY = 32
    #: a connection's byte stream (the steps' socket fast paths apply: socket_steps.py)
    byte_stream = True

    def __init__(self, listener: socket.socket, one_client: bool = False,
                 peers: PeerCheck | None = None):
        self.listener = listener
        self.listener.setblocking(False)
        self.one_client = one_client
        self.peers = peers
        self.refusals = Refusals()
        self.clients: list[socket.socket] = []
        self.last: socket.socket | None = None
        self._reads = 0
        self._poll_in: select.poll | None = None
        self._poll_out: tuple[socket.socket | None, select.poll] | None = None

    def _accept_all(self) -> bool:
        """Accept every connection waiting (the run's; an outsider's is refused); True
        when a client was added."""
        self._reads = 0
        added = False
        while not (self.one_client and self.clients):
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            outsider = self.peers.stream(conn) if self.peers is not None else None
            if outsider is not None:
                conn.close()
                self.refusals.add(outsider, False)
                continue
            conn.setblocking(False)
            self.clients.append(conn)
            added = True
        if added:
            self._poll_in = None
        return added

    def read_some(self, nbytes: int) -> bytes | None:
        """Bytes from the first client that has some; None if none has (b'' never: a
        client that closed is just dropped)."""
        if not self.clients or self._reads >= self.ACCEPT_EVERY:
            self._accept_all()
        data = self._read_clients(nbytes)
        if data is None and self._accept_all():
            data = self._read_clients(nbytes)
        return data

    def _read_clients(self, nbytes: int) -> bytes | None:
        for conn in tuple(self.clients):
            try:
                data = conn.recv(nbytes)
            except BlockingIOError:
                continue
            except ConnectionError:
                data = b""
            if not data:
                self.clients.remove(conn)
                self._poll_in = None
                if self.last is conn:
                    self.last = None
                conn.close()
                continue
            self.last = conn
            self._reads += 1
            return data
        return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = self._poll_in
        if poller is None:
            poller = self._poll_in = select.poll()
            if not (self.one_client and self.clients):
                poller.register(self.listener, select.POLLIN)
            for conn in self.clients:
                poller.register(conn, select.POLLIN)
        listener = self.listener.fileno()
        for fd, _ in poller.poll(timeout_ms):
            if fd == listener:  # a connection waits: the next read accepts it
                self._reads = self.ACCEPT_EVERY

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
        cached = self._poll_out
        if cached is None or cached[0] is not target:
            poller = select.poll()
            poller.register(target or self.listener,
                            select.POLLOUT if target else select.POLLIN)
            cached = self._poll_out = (target, poller)
        cached[1].poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> ServerEndpoint:
        """A spawned handler: the same listener, its own (single) connection."""
        return ServerEndpoint(self.listener, one_client=True, peers=self.peers)


class ClientEndpoint(StreamEnd, Endpoint):
    """A client: connects on first use, then reads and writes on that one connection."""

    #: a connection's byte stream (the steps' socket fast paths apply: socket_steps.py)
    byte_stream = True

    def __init__(self, family: int, address: SocketAddress, peers: PeerCheck | None = None):
        self.family = family
        self.address = address
        self.peers = peers
        self.conn: socket.socket | None = None
        self._poll_in: select.poll | None = None
        self._poll_out: select.poll | None = None

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
        if self._poll_out is None:  # (one connection for the endpoint's life: made once)
            self._poll_out = select.poll()
            self._poll_out.register(self._connected(), select.POLLOUT)
        self._poll_out.poll(timeout_ms)

    def read_some(self, nbytes: int) -> bytes | None:
        try:
            return self._connected().recv(nbytes)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            return b""

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        if self._poll_in is None:
            self._poll_in = select.poll()
            self._poll_in.register(self._connected(), select.POLLIN)
        self._poll_in.poll(timeout_ms)

    def for_roles(self, roles: set[str]) -> ClientEndpoint:
        return ClientEndpoint(self.family, self.address, self.peers)


class DatagramServer(StreamEnd, Endpoint):
    """The receiving side of a datagram socket: one datagram per read (its boundary kept),
    replies go to whoever sent the last one. A datagram from outside the run (`peers`)
    is dropped and reported to `refusals`."""

    def __init__(self, sock: socket.socket, peers: PeerCheck | None = None):
        self.sock = sock
        self.sock.setblocking(False)
        self.peer: SocketAddress | None = None
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


class DatagramClient(StreamEnd, Endpoint):
    """A sender of datagrams: its own socket, connected to the server's address (so it
    can also read the answers sent back to it)."""

    def __init__(self, family: int, address: SocketAddress, peers: PeerCheck | None = None):
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
