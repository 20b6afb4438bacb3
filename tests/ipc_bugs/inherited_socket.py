"""A helper program started with exec inherits one socket of a connected pair (no
close-on-exec) and sleeps; the reader of the other socket waits for end-of-file until the
helper exits."""
import os
import socket
import subprocess

mine, theirs = socket.socketpair()
theirs.set_inheritable(True)   # as socketpair(2) in C: inherited by every exec
reader = os.fork()
if reader == 0:
    theirs.close()
    while mine.recv(4096):
        pass
    os._exit(0)
mine.close()
helper = subprocess.Popen(["sleep", "60"], close_fds=False)   # the leak
theirs.sendall(b"done\n")
theirs.close()
os.waitpid(reader, 0)
