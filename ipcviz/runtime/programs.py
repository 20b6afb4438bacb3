"""Workers that are real programs (`exec:`): what the fork does before it becomes the
program, and the runtime's end of the program's output (each whole line an event).

A program has no step interpreter: nothing writes its row of the telemetry table but
the runtime (pid, start time). What is known about it comes from the kernel (state,
what it waits in, masks, zombies) and from its output.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ipcviz.host.process import ProcessIdentity
from ipcviz.scenario import schema

#: longest output line kept (the rest is cut and marked), and most lines a read turns
#: into events (a program that floods its output gets one "N more lines" event instead)
MAX_LINE = 200
MAX_LINES_PER_READ = 50
#: the last lines of each program's output kept for the summary
KEEP_LINES = 5


def env_name(channel: str, what: str) -> str:
    """`IPCVIZ_<CHANNEL>_<WHAT>` with the channel name upper-cased and made a valid name."""
    return f"IPCVIZ_{re.sub(r'[^A-Za-z0-9]', '_', channel).upper()}_{what}"


def channel_environment(channels: list) -> dict[str, str]:
    """Every channel's kernel name, path or port, for programs to find them by."""
    env: dict[str, str] = {}
    for channel in channels:
        ipc_name = getattr(channel, "ipc_name", None)
        if ipc_name:
            env[env_name(channel.name, "NAME")] = str(ipc_name)
        address = getattr(channel, "address", None)
        if isinstance(address, tuple) and len(address) >= 2:
            env[env_name(channel.name, "PORT")] = str(address[1])
            env[env_name(channel.name, "HOST")] = str(address[0])
        else:
            path = getattr(channel, "path", None)
            if path:
                env[env_name(channel.name, "PATH")] = str(path)
    return env


def working_directory(definition: schema.Worker, scenario_path: str) -> str:
    """`cwd:` as given when absolute, else relative to the scenario file's directory
    (a lab's programs sit beside its scenario); by default that directory itself."""
    base = Path(scenario_path).resolve().parent if scenario_path else Path.cwd()
    if definition.cwd is None:
        return str(base)
    return str(base / definition.cwd)


def prepare_programs(model: schema.Scenario, scenario_path: str
                     ) -> tuple[dict[str, list[str]], list[str]]:
    """Each program's command line ready to exec (a C source `prog.c` compiled once into
    the cache, see observe/cc.py), and why one cannot start (not found, not executable,
    no such working directory, no compiler): checked before anything is created."""
    from ipcviz.observe.cc import CompileError, compile_c

    argvs: dict[str, list[str]] = {}
    problems = []
    for name, worker in model.workers.items():
        if worker.exec is None:
            continue
        cwd = working_directory(worker, scenario_path)
        if not os.path.isdir(cwd):
            problems.append(f"worker '{name}': working directory {cwd} does not exist")
            continue
        argv = list(worker.exec)
        program = argv[0]
        if program.endswith(".c"):
            try:
                argv[0] = program = str(compile_c(os.path.join(cwd, program)))
            except (CompileError, OSError) as exc:
                problems.append(f"worker '{name}': {exc}")
                continue
        path_var = worker.env.get("PATH", os.environ.get("PATH", os.defpath))
        if "/" in program:
            found = os.path.join(cwd, program)
            ok = os.path.isfile(found) and os.access(found, os.X_OK)
        else:
            ok = shutil.which(program, path=path_var) is not None
        if not ok:
            problems.append(f"worker '{name}': program '{program}' not found"
                            + ("" if "/" in program else " on PATH")
                            + " (or not executable)")
        argvs[name] = argv
    return argvs, problems


def attach_problem(pid: int) -> str | None:
    """Why process `pid` cannot be watched (`attach:`), in one line, or None: it must run,
    be the user's own (the same real uid) and be none of this run's own processes."""
    from ipcviz.host.process import owner_uids

    uids = owner_uids(pid)
    if uids is None:
        return f"no process {pid} is running"
    if os.getuid() != 0 and set(uids) != {os.getuid()}:
        return f"process {pid} is not yours"
    if pid in (os.getpid(), os.getppid(), 1):
        return f"process {pid} is ipcviz itself (or init): pick the program's pid"
    return None


def become_program(argv: list[str], cwd: str, env: dict[str, str],
                   stdin_fd: int | None, stdin_path: str | None,
                   stdout_fd: int | None, stdout_path: str | None,
                   out_w: int, err_w: int, gate_fd: int | None) -> None:
    """In a fresh fork that has already left the runtime's signals and priority behind:
    wire standard input and output, wait at the start gate, exec. Never returns."""
    try:
        stdin = _stream_end(stdin_fd, stdin_path, os.O_RDONLY, os.devnull)
        stdout = _stream_end(stdout_fd, stdout_path, os.O_WRONLY, None)
        os.dup2(stdin, 0)
        os.dup2(stdout if stdout is not None else out_w, 1)
        os.dup2(err_w, 2)
        for fd in (0, 1, 2):
            os.set_inheritable(fd, True)
        if gate_fd is not None:  # every worker starts at once
            while os.read(gate_fd, 1):
                pass
        os.closerange(3, 65536)
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        os.write(2, f"cannot run {argv[0]!r}: {exc.strerror}\n".encode())
    os._exit(127)


def _stream_end(fd: int | None, path: str | None, flags: int, fallback: str | None
                ) -> int | None:
    """A blocking descriptor of the channel end a program reads or writes as a plain
    program would: a new open file description of the pipe (its own blocking mode; the
    scripted workers' ends stay non-blocking) or the FIFO's path opened for real."""
    if fd is not None:
        return os.open(f"/proc/self/fd/{fd}", flags)
    if path is not None:
        return os.open(path, flags)
    return os.open(fallback, flags) if fallback is not None else None


@dataclass
class ProgramOutput:
    """The read ends of the programs' stdout and stderr pipes (non-blocking), read in
    the runtime's loop: each whole line becomes an event of its worker."""

    log: Callable[[str, str, str], None]
    #: fd -> (worker, stream name)
    streams: dict[int, tuple[str, str]] = field(default_factory=dict)
    partial: dict[int, bytes] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    last: dict[str, list[str]] = field(default_factory=dict)
    #: the pipes' inodes (ipcviz's own plumbing, left out of what is observed)
    inodes: set[int] = field(default_factory=set)
    #: worker -> the text of its `ready:` line, and the workers that have printed theirs
    ready_text: dict[str, str] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)

    def open(self, worker: str) -> tuple[int, int]:
        """A fresh pair of pipes for a program about to be forked: the write ends (for
        its stdout and stderr), which the runtime closes once it has forked."""
        ends = []
        for stream in ("stdout", "stderr"):
            read_fd, write_fd = os.pipe()
            self.inodes.add(os.fstat(read_fd).st_ino)
            os.set_blocking(read_fd, False)
            os.set_inheritable(read_fd, False)
            self.streams[read_fd] = (worker, stream)
            ends.append(write_fd)
        return ends[0], ends[1]

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(self.streams)

    def read(self, fd: int) -> bool:
        """Whatever the program wrote: each whole line an event; at end of file the last
        partial line too, and the pipe is closed. False when nothing was there."""
        worker, stream = self.streams[fd]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        data = self.partial.pop(fd, b"") + chunk
        *whole, rest = data.split(b"\n")
        if not chunk:  # the program (and all its children) closed it
            whole += [rest] if rest else []
            rest = b""
            del self.streams[fd]
            os.close(fd)
        elif len(rest) > MAX_LINE * 4:  # a line with no end in sight: show it cut
            whole.append(rest)
            rest = b""
        if rest:
            self.partial[fd] = rest
        self._emit(worker, stream, whole)
        return bool(chunk)

    def _emit(self, worker: str, stream: str, raw: list[bytes]) -> None:
        if not raw:
            return
        self.lines[worker] = self.lines.get(worker, 0) + len(raw)
        texts = [_line_text(line) for line in raw]
        wanted = self.ready_text.get(worker)
        if wanted is not None and worker not in self.ready and any(wanted in t for t in texts):
            self.ready.add(worker)
        last = self.last.setdefault(worker, [])
        last.extend(texts)
        del last[:-KEEP_LINES]
        mark = "stderr: " if stream == "stderr" else ""
        for text in texts[:MAX_LINES_PER_READ]:
            self.log(worker, f"{mark}{text}", "output")
        if len(texts) > MAX_LINES_PER_READ:
            self.log(worker, f"... {len(texts) - MAX_LINES_PER_READ} more lines of {stream}",
                     "output")

    def drain(self) -> None:
        """Read every pipe until nothing is left now (the end of a run)."""
        for fd in list(self.streams):
            for _ in range(64):  # at most 4 MiB: a program still writing is cut off
                if fd not in self.streams or not self.read(fd):
                    break

    def close(self) -> None:
        for fd in list(self.streams):
            os.close(fd)
        self.streams.clear()


def _line_text(line: bytes) -> str:
    text = line.rstrip(b"\r").decode("utf-8", errors="replace")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"


def _children(pid: int) -> list[int]:
    from ipcviz.observe.procs import children_of

    return children_of(pid, None)


def _pgrp(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
        return int(raw[raw.rfind(b")") + 2:].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def _not_exec_yet(pid: int) -> bool:
    """Still the runtime's fork (the same command line): its descriptors are ipcviz's."""
    try:
        with open("/proc/self/cmdline", "rb") as me, open(f"/proc/{pid}/cmdline", "rb") as it:
            return me.read() == it.read()
    except OSError:
        return False


def program_trees(leaders: list[int], groups: set[int]) -> list[ProcessIdentity]:
    """Every process under the `leaders` (programs), and the runtime's children in the
    programs' process `groups` (their orphans: the runtime is the subreaper)."""
    seen: dict[int, ProcessIdentity] = {}
    todo = list(leaders) + [k for k in _children(os.getpid()) if _pgrp(k) in groups]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        ident = ProcessIdentity.of(pid)
        if ident is None:
            continue
        seen[pid] = ident
        todo += _children(pid)
    return list(seen.values())


def kill_program_trees(leaders: list[int], groups: set[int]) -> list[ProcessIdentity]:
    """SIGKILL the programs and everything they started, by identity (a pid that has
    been reused is never signalled), until no new process turns up; returns them all."""
    killed: dict[ProcessIdentity, None] = {}
    for _ in range(10):  # a program forking as fast as it can: a few rounds catch it
        found = [p for p in program_trees(leaders, groups) if p not in killed]
        if not found:
            break
        for ident in found:
            ident.signal(signal.SIGKILL)
            killed[ident] = None
    return list(killed)


#: bytes of each shared-memory segment shown; how often (in frames) mappings are read
SHOWN_BYTES = 64
MAPS_EVERY = 5


@dataclass
class ProgramWatch:
    """What the kernel shows of each program's process tree, read at the clock's ticks,
    as plain data for the Snapshot, and the peaks the summary reports."""

    last: dict[str, dict] = field(default_factory=dict)
    peaks: dict[str, dict] = field(default_factory=dict)
    #: POSIX objects seen in a program's tree, by worker: leaks if they outlive the run
    objects: dict[str, set[str]] = field(default_factory=dict)
    ticks: int = 0
    #: program pids seen after their exec (an exec happens once: not checked again)
    execd: set[int] = field(default_factory=set)
    #: workers watching a process ipcviz did not start (attach:): what their trees use
    #: is never called their leak
    not_ours: set[str] = field(default_factory=set)
    #: /dev/shm as it was before the run: an object that was already there is not the
    #: program's leak (it only used it); ipcviz's own objects are the registry's
    existing: frozenset[str] = field(
        default_factory=lambda: frozenset(os.listdir("/dev/shm")) if os.path.isdir(
            "/dev/shm") else frozenset())

    def read(self, name: str, pid: int, fresh: bool, plumbing: set[int],
             channels: dict[int, str]) -> dict:
        """The tree under `pid` (`plumbing`: inodes of ipcviz's own pipes, left out;
        `channels`: inodes of the scenario's pipes and FIFOs, by channel name)."""
        if not fresh and name in self.last:
            return self.last[name]
        if pid not in self.execd and _not_exec_yet(pid):  # still the runtime's fork
            return self.last.get(name, {"processes": [], "pipes": [], "queues": [],
                                        "sockets": [], "shared_memory": []})
        self.execd.add(pid)
        from ipcviz.observe import observe

        self.ticks += 1
        maps = self.ticks % MAPS_EVERY == 1 or name not in self.last
        seen = observe(pid, contents_limit=SHOWN_BYTES, maps=maps)
        view = {
            "processes": [[p.pid, p.ppid, p.name, p.state_words,
                           p.wait.words if p.wait else "", p.zombies]
                          for p in seen.processes],
            "pipes": [{"kind": p.kind, "path": p.path, "inode": p.inode,
                       "buffered": p.buffered, "capacity": p.capacity,
                       "writers": list(p.writers), "readers": list(p.readers),
                       "channel": channels.get(p.inode)}
                      for p in seen.pipes if p.inode not in plumbing],
            "queues": [{"name": q.name, "depth": q.depth, "capacity": q.capacity,
                        "holders": sorted({e.pid for e in q.holders})} for q in seen.queues],
            "sockets": [{"family": s.family, "type": s.type, "state": s.state,
                         "local": s.local, "remote": s.remote, "rx_queue": s.rx_queue,
                         "holders": sorted({e.pid for e in s.holders})} for s in seen.sockets],
        }
        if maps:
            view["shared_memory"] = [
                {"name": m.name, "kind": m.kind, "size": m.size, "mappers": list(m.mappers),
                 "contents": m.contents.hex() if m.contents is not None else None}
                for m in seen.mappings if m.kind in ("posix_shm", "sysv_shm")]
        else:
            view["shared_memory"] = self.last.get(name, {}).get("shared_memory", [])
        self.last[name] = view
        self._peak(name, view)
        return view

    def _peak(self, name: str, view: dict) -> None:
        peak = self.peaks.setdefault(name, {"processes": 0, "zombies": 0, "pipes": {},
                                            "queues": {}, "shared_memory": {}})
        peak["processes"] = max(peak["processes"], len(view["processes"]))
        peak["zombies"] = max(peak["zombies"], sum(p[5] for p in view["processes"]))
        for pipe in view["pipes"]:
            key = pipe["channel"] or pipe["path"] or f"pipe:[{pipe['inode']}]"
            known = peak["pipes"].setdefault(key, {"peak_buffered": 0, "writers": [],
                                                   "readers": []})
            known["peak_buffered"] = max(known["peak_buffered"], pipe["buffered"] or 0)
            known["writers"] = sorted(set(known["writers"]) | set(pipe["writers"]))
            known["readers"] = sorted(set(known["readers"]) | set(pipe["readers"]))
        theirs = name not in self.not_ours
        for queue in view["queues"]:
            known = peak["queues"].setdefault(queue["name"], {"peak_depth": 0})
            known["peak_depth"] = max(known["peak_depth"], queue["depth"] or 0)
            if theirs and not self._not_its_own(queue["name"]):
                self.objects.setdefault(name, set()).add("mqueue:" + queue["name"])
        for segment in view["shared_memory"]:
            known = peak["shared_memory"].setdefault(segment["name"], {"size": 0,
                                                                        "mappers": []})
            known["size"] = max(known["size"], segment["size"])
            known["mappers"] = sorted(set(known["mappers"]) | set(segment["mappers"]))
            if theirs and segment["kind"] == "posix_shm" and \
                    not self._not_its_own(segment["name"]):
                self.objects.setdefault(name, set()).add("shm:" + segment["name"])

    def _not_its_own(self, posix_name: str) -> bool:
        """An object the program did not create: there before the run, or ipcviz's."""
        bare = posix_name.lstrip("/")
        return bare in self.existing or bare.startswith(("ipcviz.", "sem.ipcviz."))

    def leaks(self, name: str) -> list[str]:
        """POSIX objects this program's tree used that still exist: /dev/shm/NAME and
        /dev/mqueue/NAME (the program's, not ipcviz's: reported, never removed here)."""
        out = []
        for item in sorted(self.objects.get(name, ())):
            kind, _, obj = item.partition(":")
            if kind == "shm" and os.path.exists("/dev/shm" + obj):
                out.append("/dev/shm" + obj)
            elif kind == "mqueue" and queue_exists(obj):
                out.append("/dev/mqueue" + obj)
        return out


def queue_exists(name: str) -> bool:
    """Whether the POSIX message queue `name` exists (/dev/mqueue need not be mounted)."""
    import posix_ipc

    try:
        posix_ipc.MessageQueue(name).close()
    except posix_ipc.ExistentialError:
        return False
    except posix_ipc.Error:
        return True  # there, but not ours to open
    return True
