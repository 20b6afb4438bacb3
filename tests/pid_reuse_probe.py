"""Run inside a fresh pid namespace (unshare --pid --fork --mount-proc), as root: a process
ends and its pid is given to a newcomer in the instant between ProcessIdentity.signal's
start-time check and its kill. Prints "newcomer killed" or "newcomer alive"."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[1])
from ipcviz.host.process import ProcessIdentity  # noqa: E402

target = subprocess.Popen(["sleep", "60"])
ident = ProcessIdentity.of(target.pid)
assert ident is not None
real_exists = ProcessIdentity.exists
newcomer: list[subprocess.Popen] = []


def exists_then_reuse(self: ProcessIdentity) -> bool:
    """The real check; then, before the caller acts on it, the process ends and the
    kernel hands its pid to a new process (forced with ns_last_pid)."""
    answer = real_exists(self)
    if answer and not newcomer:
        target.kill()
        target.wait()
        with open("/proc/sys/kernel/ns_last_pid", "w") as fh:
            fh.write(str(self.pid - 1))
        newcomer.append(subprocess.Popen(["sleep", "60"]))
        assert newcomer[0].pid == self.pid, (newcomer[0].pid, self.pid)
    return answer


ProcessIdentity.exists = exists_then_reuse  # type: ignore[method-assign]
ident.signal(signal.SIGKILL)
time.sleep(0.1)  # nothing should happen: a SIGKILL sent by mistake ends it by then
print("newcomer killed" if newcomer[0].poll() is not None else "newcomer alive")
newcomer[0].kill()
newcomer[0].wait()
