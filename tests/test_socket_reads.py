"""A stream socket server's reads (channels/socket_endpoints.py ServerEndpoint), on a real
listening Unix socket and real connections, the accept() calls counted by the kernel
(host/syscall_count.py): a busy connection's reads look for new connections once every
ACCEPT_EVERY reads, not before every read, and a client that connects meanwhile is still
accepted and read."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ipcviz.channels.socket_endpoints import ServerEndpoint
from ipcviz.host.syscall_count import SyscallCounter, unavailable

BLOCK = 64
N = 10 * ServerEndpoint.ACCEPT_EVERY


def _server(tmp_path: Path) -> tuple[socket.socket, ServerEndpoint]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "s"))
    listener.listen(4)
    return listener, ServerEndpoint(listener)


def _client(tmp_path: Path, blocks: int, byte: bytes) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(tmp_path / "s"))
    client.sendall(byte * (BLOCK * blocks))  # (fits in the socket's buffer)
    return client


@pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "calls are counted")
def test_a_busy_connection_is_read_without_an_accept_per_read(tmp_path, nothing_left_behind
                                                              ) -> None:
    listener, server = _server(tmp_path)
    client = _client(tmp_path, N, b"a")
    counter = SyscallCounter(call="accept4")
    try:
        counter.start()
        got = [server.read_some(BLOCK) for _ in range(N)]
        accepts = counter.read()
    finally:
        counter.close()
        client.close()
        for conn in server.clients:
            conn.close()
        listener.close()
    assert [len(data) for data in got] == [BLOCK] * N
    # the first read: the connection accepted, then a look that finds nobody more; then
    # one look at the start of every ACCEPT_EVERY reads after the first batch
    assert accepts == 2 + (N - 1) // ServerEndpoint.ACCEPT_EVERY


def test_a_client_connecting_during_a_busy_stream_is_accepted_and_read(
        tmp_path, nothing_left_behind) -> None:
    listener, server = _server(tmp_path)
    first = _client(tmp_path, N, b"a")
    second = None
    try:
        assert server.read_some(BLOCK) == b"a" * BLOCK
        second = _client(tmp_path, 1, b"b")
        reads = 1
        while len(server.clients) < 2:  # the first still has data all the while
            assert server.read_some(BLOCK) == b"a" * BLOCK
            reads += 1
        assert reads <= ServerEndpoint.ACCEPT_EVERY + 1
        rest = [server.read_some(BLOCK) for _ in range(N - reads)]
        assert rest == [b"a" * BLOCK] * (N - reads)
        # the first has nothing left: the second's block is the next read, then nothing
        assert server.read_some(BLOCK) == b"b" * BLOCK
        assert server.read_some(BLOCK) is None
    finally:
        first.close()
        if second is not None:
            second.close()
        for conn in server.clients:
            conn.close()
        listener.close()
