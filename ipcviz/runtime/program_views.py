"""A program's side of the worker views (a worker that runs `exec:` or watches a process
of the user's, `attach:`): nothing in the table is written for it, so what it is doing
and what it has open come from the kernel alone."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ipcviz.runtime.proc_reader import ProcReader
from ipcviz.telemetry.snapshot import Waiting

if TYPE_CHECKING:
    from ipcviz.runtime.supervisor import Runtime


def plain_state(kernel: str) -> str | None:
    """The state a kernel letter says by itself (zombie, stopped, running), or None for a
    sleeping process, whose words depend on what it waits in."""
    if kernel == "Z":
        return "zombie"
    if kernel in "Tt":
        return "stopped"
    if kernel == "R":
        return "running"
    return None


def program_state(pid: int, kernel: str, fresh: bool, cache: dict[int, Waiting | None]
                  ) -> tuple[str, Waiting | None]:
    """A program's state and, when it sleeps, what it waits in, in words the kernel's
    /proc/PID/syscall and wchan give ("pipe read", "mq_timedsend", "sleep"); read at
    the clock's ticks only (a wchan lookup costs about 150 µs)."""
    from ipcviz.observe.procs import wait_of

    plain = plain_state(kernel)
    if plain is not None:
        return plain, None
    if fresh or pid not in cache:
        wait = wait_of(pid, kernel, {})
        if wait is not None and wait.fd is not None:  # which kind of descriptor it is on
            try:
                link = os.readlink(f"/proc/{pid}/fd/{wait.fd}")
            except OSError:
                link = ""
            kind = link.split(":", 1)[0] if link.startswith(("pipe:", "socket:")) else (
                "fifo" if link.startswith("/") and _is_fifo(link) else "")
            if kind:
                wait = wait_of(pid, kernel, {wait.fd: kind})
        cache[pid] = Waiting(wait.words) if wait is not None else None
    return ("blocked" if cache[pid] is not None else "sleeping"), cache[pid]


def _is_fifo(path: str) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class ProgramViews:
    """What a program does and has open, from the runtime's program output, watch and
    tracing, and the kernel (through `procs`, whose `fresh` says whether this frame
    reads /proc)."""

    def __init__(self, runtime: Runtime, procs: ProcReader) -> None:
        self.runtime = runtime
        self.procs = procs
        #: a program's pid -> what it waits in, read at the clock's ticks
        self._waits: dict[int, Waiting | None] = {}
        #: the inodes of the scenario's pipes and FIFOs (read once)
        self._inodes: dict[int, str] | None = None
        #: program worker -> its descriptors 0, 1, 2 when last seen alive
        self._std_fds: dict[str, dict[str, str]] = {}

    def state(self, pid: int, kernel: str) -> tuple[str, Waiting | None]:
        """The program's state and what it waits in (program_state)."""
        return program_state(pid, kernel, self.procs.fresh, self._waits)

    def channel_inodes(self) -> dict[int, str]:
        """The inodes of the scenario's pipes and FIFOs, by channel name (read once)."""
        found = self._inodes
        if found is None:
            found = self._inodes = {}
            for channel in self.runtime.channels:
                for fd in getattr(channel, "fds", {}).values():
                    if fd is not None:
                        try:
                            found[os.fstat(fd).st_ino] = channel.name
                        except OSError:
                            pass
        return found

    def facts(self, name: str, argv: list[str], pid: int | None, alive: bool
              ) -> dict[str, Any]:
        """Its command line and output, and the kernel's view of its process tree (read
        at the clock's ticks: see ProgramWatch)."""
        output = self.runtime.programs
        watch = self.runtime.program_watch
        facts: dict[str, Any] = {"argv": list(argv), "output_lines": output.lines.get(name, 0),
                                 "last_output": list(output.last.get(name, ()))}
        if name in watch.not_ours:  # a running process ipcviz did not start (attach:)
            facts["attached"] = True
        if alive and pid:
            facts["observed"] = watch.read(name, pid, self.procs.fresh, output.inodes,
                                           self.channel_inodes())
        facts["peak"] = watch.peaks.get(name, {})
        facts["diagnoses"] = watch.diagnosed(name)   # each shown during the run
        facts["graph"] = watch.graphs.get(name)      # who talks to whom, last seen
        traced = self.runtime.tracing.view(name)
        if traced is not None:  # exact counts from strace (`trace: true`, watch --trace)
            facts["trace"] = traced
        facts["leaks"] = watch.leaks(name) if not alive else []
        facts.update(self._std_facts(name, pid if alive else None, traced))
        return facts

    def _std_facts(self, name: str, pid: int | None, traced: dict | None) -> dict:
        """Its descriptors 0, 1, 2 as the kernel shows them now (`fds`, with `alive`
        false once it has ended: then they are the last seen), and per channel of the
        scenario the bytes strace saw it write and read there (`channel_bytes`)."""
        from ipcviz.observe.std_fds import std_fds  # (a run without programs never needs it)

        out: dict = {}
        seen = self._std_fds
        now = std_fds(pid, self.channel_inodes(), self.runtime.programs.inodes) \
            if pid else None
        if now is not None:
            seen[name] = now
        if name in seen:
            out["fds"] = {**seen[name], "alive": now is not None}
        if traced is not None:
            inodes = {f"pipe:[{inode}]": channel
                      for inode, channel in self.channel_inodes().items()}
            moved: dict[str, list[int]] = {}
            for target, counts in traced.get("descriptors", {}).items():
                channel = inodes.get(target)
                if channel is not None:
                    moved[channel] = [counts["bytes_written"], counts["bytes_read"]]
            out["channel_bytes"] = moved
        return out
