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
from collections.abc import Callable, Collection
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
    argvs: dict[str, list[str]] = {}
    problems: list[str] = []
    for name, worker in model.workers.items():
        if worker.exec is None:
            continue
        from ipcviz.observe.cc import CompileError, compile_c  # (only where programs run)

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


def attach_problem(pid: int, start: int | None = None) -> str | None:
    """Why process `pid` cannot be watched (`attach:`), in one line, or None: it must run,
    be the user's own (the same real uid), be none of this run's own processes and, when
    `start` is given, be the process that started then (not a later one with its pid)."""
    from ipcviz.host.process import owner_uids, start_ticks

    uids = owner_uids(pid)
    if uids is None:
        return f"no process {pid} is running"
    if start is not None and start_ticks(pid) != start:
        return f"process {pid} has ended (another process has its pid now)"
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
        stdin = _stream_end(stdin_fd, stdin_path, os.O_RDONLY)
        stdout = _stream_end(stdout_fd, stdout_path, os.O_WRONLY)
        os.dup2(stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY), 0)
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


def _stream_end(fd: int | None, path: str | None, flags: int) -> int | None:
    """A blocking descriptor of the channel end a program reads or writes as a plain
    program would: a new open file description of the pipe (its own blocking mode; the
    scripted workers' ends stay non-blocking) or the FIFO's path opened for real."""
    if fd is not None:
        return os.open(f"/proc/self/fd/{fd}", flags)
    if path is not None:
        return os.open(path, flags)
    return None


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
        if wanted is not None and worker not in self.ready and any(  # the whole line
                wanted.encode() in line for line in raw):
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


def not_exec_yet(pid: int) -> bool:
    """Still the runtime's fork (the same command line): its descriptors are ipcviz's."""
    try:
        with open("/proc/self/cmdline", "rb") as me, open(f"/proc/{pid}/cmdline", "rb") as it:
            return me.read() == it.read()
    except OSError:
        return False


def program_trees(leaders: list[int], groups: set[int],
                  helpers: Collection[int] = ()) -> list[ProcessIdentity]:
    """Every process under the `leaders` (programs), and the orphans the runtime adopted
    as subreaper with what is under them: its children in the programs' process `groups`,
    and every child that is not its own fork nor one of its `helpers` (strace), whatever
    session or group it moved to and whatever it did to its environment."""
    seen: dict[int, ProcessIdentity] = {}
    todo = list(leaders) + [k for k in _children(os.getpid()) if k not in helpers and (
        _pgrp(k) in groups or not not_exec_yet(k))]
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


def kill_program_trees(leaders: list[int], groups: set[int],
                       marked: Callable[[], list[ProcessIdentity]] | None = None,
                       helpers: Collection[int] = ()) -> list[ProcessIdentity]:
    """SIGKILL the programs and everything they started, by identity (a pid that has
    been reused is never signalled), until no new process turns up; returns them all.
    `marked`: more processes of the run (those tracking found outside these trees)."""
    killed: dict[ProcessIdentity, None] = {}
    for _ in range(10):  # a program forking as fast as it can: a few rounds catch it
        found = program_trees(leaders, groups, helpers) + (marked() if marked is not None
                                                           else [])
        found = [p for p in dict.fromkeys(found) if p not in killed and p.exists()]
        if not found:
            break
        for ident in found:
            ident.signal(signal.SIGKILL)
            killed[ident] = None
    return list(killed)
