"""A server and its client over loopback TCP each wait for the other to speak first:
both block in recv on the one connection, forever."""
import os
import socket

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
address = server.getsockname()
if os.fork() == 0:
    server.close()
    client = socket.create_connection(address)
    client.recv(100)   # waits for the server's greeting
    os._exit(0)
conn, _ = server.accept()
conn.recv(100)         # waits for the client's request
