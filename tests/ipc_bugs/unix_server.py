"""Bug-free: a server forked with three clients over a unix socket; each client sends a
line, reads the echo and sleeps; the server waits for the next connection."""
import os
import socket
import sys
import time

path = f"\0ipcviz-test-echo-{os.getpid()}"   # an abstract name: no file left behind
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen()
for i in range(3):
    if os.fork() == 0:
        server.close()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(path)
        client.sendall(f"hello {i}\n".encode())
        client.recv(100)
        time.sleep(60)
        os._exit(0)
kept = []
for _ in range(3):
    conn, _ = server.accept()
    conn.sendall(conn.recv(100))
    kept.append(conn)
print("served 3", flush=True)
server.accept()   # waits for a fourth that never comes
sys.exit(0)
