"""A writer blocked on a full pipe while its reader sleeps instead of reading."""
import os
import time

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    time.sleep(60)  # the bug: it should be reading
    os._exit(0)
os.close(r)
os.write(w, b"x" * 1_000_000)
