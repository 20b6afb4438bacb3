"""Stream sockets: Unix-domain (a socket file in the run directory, mode 0600) or TCP on
127.0.0.1 only. The runtime binds and listens before the workers start; the `server`
worker accepts, every other worker connects on first use. Both directions work on one
connection. The ends the workers use are in socket_endpoints.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Protocol, TypeVar

from ipcviz.channels.base import Channel
from ipcviz.channels.peers import PeerCheck
from ipcviz.channels.socket_endpoints import (
    ClientEndpoint,
    DatagramClient,
    DatagramServer,
    ServerEndpoint,
    SocketAddress,
)
from ipcviz.channels.tcp_table import accept_queue
from ipcviz.host.process import start_ticks

#: in the run's directory: the ports of the run's own clients (see peers.py)
PORTS_FILE = "ports"


class ListenSpec(Protocol):
    """What a socket or rpc channel reads of its options."""

    @property
    def family(self) -> str:
        """"unix" (a socket file), "tcp" or "udp" (127.0.0.1)."""

    @property
    def server(self) -> str:
        """The worker that serves it."""


class SocketSpec(ListenSpec, Protocol):
    """What a socket channel reads of its options besides the address."""

    @property
    def type(self) -> str | None:
        """"stream" or "dgram" (None: stream, unless the family is udp)."""

    @property
    def receive_buffer(self) -> int | None:
        """A datagram server's SO_RCVBUF in bytes (None: the kernel's default)."""


Spec = TypeVar("Spec", bound=ListenSpec)


class ListeningChannel(Channel[Spec]):
    """What a socket and an rpc channel share: the address the runtime binds and listens
    on (a stream listener or the datagram server's socket), held while a server needs it,
    and the kernel's tables of its connections. Each kind attaches its own ends."""

    @property
    def datagrams(self) -> bool:
        """Its server receives datagrams (else it accepts stream connections)."""
        return False

    def receive_buffer(self) -> int | None:
        """The datagram server's SO_RCVBUF to set, None for the kernel's default."""
        return None

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
            self.address: SocketAddress = self.path
            self.family = socket.AF_UNIX
            self.port = 0
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # a restarted server binds this port again while the dead one's connections
            # linger (FIN_WAIT, TIME_WAIT): those must carry the option too
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            host, self.port = listener.getsockname()
            self.address = (host, self.port)
            self.family = socket.AF_INET
            self.path = f"127.0.0.1:{self.port}"
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
            self.port = 0
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            host, self.port = sock.getsockname()
            self.address = (host, self.port)
            self.family = socket.AF_INET
            self.path = f"127.0.0.1:{self.port}"
        receive_buffer = self.receive_buffer()
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.set_inheritable(True)
        self.listener = sock
        self.inode = os.fstat(sock.fileno()).st_ino
        self.drops = 0

    def child_fds(self, roles: set[str]) -> set[int]:
        return {self.listener.fileno()} if "server" in roles else set()

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
            receive_buffer = self.receive_buffer()
            if not self.datagrams:
                sock.listen(128)
            elif receive_buffer:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        except OSError:
            sock.close()  # the port was taken meanwhile: the server will find no listener
            return
        sock.set_inheritable(True)
        self.listener = sock
        if self.datagrams:
            self.inode = os.fstat(sock.fileno()).st_ino

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
                port = f"{self.port:04X}"
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


class SocketChannel(ListeningChannel[SocketSpec]):
    kind = "socket"

    @property
    def datagrams(self) -> bool:
        return self.spec.family == "udp" or self.spec.type == "dgram"

    def receive_buffer(self) -> int | None:
        return self.spec.receive_buffer

    def attach(self, roles: set[str]
               ) -> ServerEndpoint | ClientEndpoint | DatagramServer | DatagramClient:
        if self.datagrams:
            if "server" in roles:
                return DatagramServer(self.listener, self.peers)
            return DatagramClient(self.family, self.address, self.peers)
        if "server" in roles:
            return ServerEndpoint(self.listener, peers=self.peers)
        return ClientEndpoint(self.family, self.address, self.peers)

    def observe(self) -> dict:
        if self.datagrams:
            return {"address": self.path, "family": self.spec.family, "type": "dgram",
                    "server": self.spec.server, "dropped": self._drops()}
        data = {"address": self.path, "family": self.spec.family, "server": self.spec.server,
                "connections": self._connections()}
        if self.family == socket.AF_INET:  # the listener's accept queue, as `ss -lt` shows it
            waiting = accept_queue(self.port) if self.listener.fileno() >= 0 else None
            self.accept_seen = max(self.accept_seen, waiting or 0)
            data.update(accept_queue=waiting or 0, max_accept_queue=self.accept_seen)
        return data
