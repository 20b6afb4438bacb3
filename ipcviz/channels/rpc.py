"""RPC over a stream socket: JSON-RPC 2.0 calls and answers, one JSON object per line.

The runtime binds and listens as for a `socket` channel (socket_channel.py). A client
(`call` step) connects on its first call, sends
`{"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": N}` and waits for the answer
carrying the same id. When none comes within `timeout`, or the connection is lost (the
server died; then after a short pause, on a new connection), it sends the same request
again, same id, up to `retries` times: delivery at least once. An answer to an earlier call that comes late is read and dropped.

The server (`serve` step) answers one request at a time, from whichever client sent
one. It appends the id of each call it has executed to a file in the run's private
directory (`<channel>.served`, 8 bytes per id), so a restarted server, or a second
one, knows them too: a request whose id is there is executed again (that is what
at-least-once means for the work) and counted as executed twice.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
from typing import Protocol, runtime_checkable

from ipcviz.channels.endpoints import Endpoint
from ipcviz.channels.peers import PeerCheck, Refusals
from ipcviz.channels.socket_channel import ListeningChannel, ListenSpec
from ipcviz.channels.socket_endpoints import SocketAddress

#: longest request or answer line (a bigger one is an invalid request)
MAX_LINE = 64 * 1024
_ID = struct.Struct("<q")
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
#: JSON-RPC 2.0 error codes
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602


def request(method: str, params: list, call_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params,
                       "id": call_id}).encode() + b"\n"


def answer(call_id: object, result: object = None, error: tuple[int, str] | None = None
           ) -> bytes:
    body: dict[str, object] = {"jsonrpc": "2.0", "id": call_id}
    if error is not None:
        body["error"] = {"code": error[0], "message": error[1]}
    else:
        body["result"] = result
    return json.dumps(body).encode() + b"\n"


@runtime_checkable
class RpcClientEnd(Protocol):
    """A caller's end: request lines out, answer lines back, on one connection made on
    first use (and again after it is lost)."""

    def send(self, data: bytes) -> bool:
        """Send one whole request line (blocking while the socket is full): False when
        there is no server to send it to."""
        ...

    def read_line(self) -> bytes | None:
        """The next whole answer line, without its newline; None when none is here yet;
        b"" when the connection is lost."""
        ...

    def wait_readable(self, timeout_ms: int) -> None:
        """Block until an answer may be there (at most `timeout_ms`)."""
        ...


@runtime_checkable
class RpcServerEnd(Protocol):
    """The server's end: request lines from any client of the run, answers to the one
    that asked, and the record of every call id any server of the channel executed.
    Connections from outside the run are refused and reported to `refusals`."""

    refusals: Refusals

    def next_request(self) -> tuple[socket.socket, bytes] | None:
        """(client, request line) of the first client with a whole line; None if none."""
        ...

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        """Block until a request or a new client may be there (at most `timeout_ms`)."""
        ...

    def answer(self, conn: socket.socket, data: bytes) -> int:
        """Send an answer line to `conn` (blocking while its socket is full): the bytes
        sent, 0 when that client has gone."""
        ...

    def executed_before(self, call_id: int) -> bool:
        """Whether any server of this channel has executed call `call_id`."""
        ...

    def record(self, call_id: int) -> None:
        """Add `call_id` to the calls executed."""
        ...


class RpcClient(RpcClientEnd, Endpoint):
    """A caller: one connection, made on first use and again after it is lost."""

    def __init__(self, family: int, address: SocketAddress, peers: PeerCheck | None = None):
        self.family = family
        self.address = address
        self.peers = peers
        self.conn: socket.socket | None = None
        self._buffer = b""

    def send(self, data: bytes) -> bool:
        """Send one request line; False if there is no server to send it to (the
        connection broke, or connecting is refused)."""
        try:
            if self.conn is None:
                conn = (self.peers.bound(self.family, socket.SOCK_STREAM) if self.peers
                        else socket.socket(self.family, socket.SOCK_STREAM))
                try:
                    conn.connect(self.address)  # the listener's backlog accepts at once
                except OSError:
                    conn.close()
                    raise
                conn.setblocking(False)
                self.conn, self._buffer = conn, b""
            view = memoryview(data)
            while view:
                try:
                    view = view[self.conn.send(view, socket.MSG_NOSIGNAL):]
                except BlockingIOError:
                    select.select([], [self.conn], [], 0.2)
            return True
        except OSError:
            self.drop()
            return False

    def read_line(self) -> bytes | None:
        """The next whole answer line if one is here; None if none is yet; b"" when the
        connection was lost (the server closed it or died)."""
        while b"\n" not in self._buffer:
            if self.conn is None:
                return b""
            try:
                data = self.conn.recv(65536)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            if not data or len(self._buffer) > MAX_LINE:
                self.drop()
                return b""
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def wait_readable(self, timeout_ms: int) -> None:
        if self.conn is not None:
            poller = select.poll()
            poller.register(self.conn, select.POLLIN)
            poller.poll(timeout_ms)

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self._buffer = b""

    def for_roles(self, roles: set[str]) -> RpcClient:
        return RpcClient(self.family, self.address, self.peers)


class RpcServer(RpcServerEnd, Endpoint):
    """The answering side: accepts clients, takes the next whole request line from any.
    A connection from outside the run (`peers`) is closed unread, reported to `refusals`."""

    def __init__(self, listener: socket.socket, served_path: str,
                 peers: PeerCheck | None = None):
        self.listener = listener
        self.peers = peers
        self.refusals = Refusals()
        self.listener.setblocking(False)
        self.served_path = served_path
        self.clients: dict[socket.socket, bytes] = {}
        self._fd = os.open(served_path, os.O_RDWR | os.O_APPEND | _OPEN_FLAGS)
        self._served: set[int] = set()
        self._offset = 0

    def _accept_all(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the listener is gone
                return
            outsider = self.peers.stream(conn) if self.peers is not None else None
            if outsider is not None:
                conn.close()
                self.refusals.add(outsider, False)
                continue
            conn.setblocking(False)
            self.clients[conn] = b""

    def next_request(self) -> tuple[socket.socket, bytes] | None:
        """(client, request line) of the first client with a whole line; None if none."""
        self._accept_all()
        for conn in list(self.clients):
            buffer = self.clients[conn]
            while b"\n" not in buffer:
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data or len(buffer) > MAX_LINE:
                    del self.clients[conn]
                    conn.close()
                    buffer = b""
                    break
                buffer += data
            if conn not in self.clients:
                continue
            if b"\n" in buffer:
                line, _, rest = buffer.partition(b"\n")
                self.clients[conn] = rest
                return conn, line
            self.clients[conn] = buffer
        return None

    def wait_readable(self, timeout_ms: int | None = None) -> None:
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        for conn in self.clients:
            poller.register(conn, select.POLLIN)
        poller.poll(timeout_ms)

    def answer(self, conn: socket.socket, data: bytes) -> int:
        """Send an answer line to `conn`; the bytes sent (0: that client has gone)."""
        view, sent = memoryview(data), 0
        try:
            while view:
                try:
                    n = conn.send(view, socket.MSG_NOSIGNAL)
                except BlockingIOError:
                    select.select([], [conn], [], 0.2)
                    continue
                view, sent = view[n:], sent + n
        except OSError:
            self.clients.pop(conn, None)
            conn.close()
        return sent

    def executed_before(self, call_id: int) -> bool:
        """Whether any server of this channel has executed call `call_id` (the file of
        served ids, read on from where this server last stopped)."""
        size = os.fstat(self._fd).st_size
        if size > self._offset:
            data = os.pread(self._fd, size - self._offset, self._offset)
            whole = len(data) - len(data) % _ID.size
            self._served.update(x for (x,) in _ID.iter_unpack(data[:whole]))
            self._offset += whole
        return call_id in self._served

    def record(self, call_id: int) -> None:
        os.write(self._fd, _ID.pack(call_id))

    def for_roles(self, roles: set[str]) -> RpcServer:
        return RpcServer(self.listener, self.served_path, self.peers)


class RpcChannel(ListeningChannel[ListenSpec]):
    kind = "rpc"

    def create(self) -> None:
        self.served_path = str(self.registry.path(f"{self.name}.served"))
        self.registry.add("file", self.served_path)
        fd = os.open(self.served_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
        os.close(fd)
        super().create()

    def attach(self, roles: set[str]) -> RpcServer | RpcClient:
        if "server" in roles:
            return RpcServer(self.listener, self.served_path, self.peers)
        return RpcClient(self.family, self.address, self.peers)

    def observe(self) -> dict:
        return {"address": self.path, "family": self.spec.family, "server": self.spec.server,
                "connections": self._connections()}
