"""A helper program started with exec inherits the write end of a pipe (no close-on-exec,
as C's pipe() makes it) and sleeps; the reader waits for end-of-file until it exits."""
import os
import subprocess

r, w = os.pipe()
os.set_inheritable(w, True)   # as pipe(2) in C: inherited by every exec
reader = os.fork()
if reader == 0:
    os.close(w)
    while os.read(r, 4096):
        pass
    os._exit(0)
os.close(r)
helper = subprocess.Popen(["sleep", "60"], close_fds=False)   # the leak
os.write(w, b"done\n")
os.close(w)
os.waitpid(reader, 0)
