"""Three children exit at once; the parent never waits for them (SIGCHLD at its default)."""
import os
import time

for _ in range(3):
    if os.fork() == 0:
        os._exit(0)
time.sleep(60)
