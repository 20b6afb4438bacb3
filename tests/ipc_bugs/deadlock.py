"""Two processes each write a megabyte to the other before reading: both pipes fill up
and each waits for the other to read, forever."""
import os

to_child_r, to_child_w = os.pipe()
to_parent_r, to_parent_w = os.pipe()
if os.fork() == 0:
    os.close(to_child_w)
    os.close(to_parent_r)
    os.write(to_parent_w, b"c" * 1_000_000)
    os.read(to_child_r, 1_000_000)
    os._exit(0)
os.close(to_child_r)
os.close(to_parent_w)
os.write(to_child_w, b"p" * 1_000_000)
os.read(to_parent_r, 1_000_000)
