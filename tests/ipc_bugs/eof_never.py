"""The classic pipe bug: a child reads until end-of-file but never closed its own copy
of the write end, so end-of-file can never come; the parent waits for it forever."""
import os

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    while os.read(r, 4096):  # the bug: os.close(w) is missing before this loop
        pass
    os._exit(0)
os.close(r)
os.write(w, b"hello\n")
os.close(w)
os.waitpid(pid, 0)
