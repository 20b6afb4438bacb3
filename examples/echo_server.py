"""A fork-per-client TCP echo server with a pipe to a storing child and SIGCHLD reaping.

Each client's handler echoes what it receives and also writes it down a pipe to one storing
child, which appends it to a file. The SIGCHLD handler reaps every ended handler.
Usage: python3 echo_server.py [PORT] [STORE_FILE]   (port 0: any; prints "ready port N")
"""

from __future__ import annotations

import os
import signal
import socket
import sys


def store(read_fd: int, path: str) -> None:
    """The storing child: append everything from the pipe to the file until EOF."""
    with open(path, "ab") as out:
        while data := os.read(read_fd, 4096):
            out.write(data)
            out.flush()
    os._exit(0)


def serve(conn: socket.socket, write_fd: int) -> None:
    """One client's handler: echo and store each chunk until the client closes."""
    while data := conn.recv(4096):
        conn.sendall(data)
        os.write(write_fd, data)
    os._exit(0)


def reap(signum: int, frame: object) -> None:
    """SIGCHLD: reap every child that has ended (signals coalesce, so loop)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    path = sys.argv[2] if len(sys.argv) > 2 else "echo_store.txt"
    read_fd, write_fd = os.pipe()
    storer = os.fork()
    if storer == 0:
        os.close(write_fd)
        store(read_fd, path)
    os.close(read_fd)
    signal.signal(signal.SIGCHLD, reap)
    listener = socket.create_server(("127.0.0.1", port))
    print(f"ready port {listener.getsockname()[1]} storer {storer}", flush=True)
    while True:
        conn, _ = listener.accept()
        handler = os.fork()
        if handler == 0:
            listener.close()
            serve(conn, write_fd)
        conn.close()
        print(f"client handled by {handler}", flush=True)


if __name__ == "__main__":
    main()
