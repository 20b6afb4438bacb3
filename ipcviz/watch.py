"""`ipcviz watch -- CMD ARGS...`: a real program as the one worker of a scenario made on
the spot, in the live view or (`--headless`) with a summary; and the `--allow-exec`
option of the commands that run scenario files.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import yaml

#: a headless watch ends after this many seconds unless the program ends first
DEFAULT_WATCH_SECONDS = 10.0


def add_allow_exec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-exec", action="store_true",
                        help="let the scenario's `exec:` workers run their programs (a "
                             "file of yours or someone else's: read it first; bundled "
                             "scenarios need no permission)")


def add_watch_parser(sub: argparse._SubParsersAction) -> None:
    watch = sub.add_parser(
        "watch", help="run a program of yours and watch its processes and IPC",
        description="Run CMD (no shell) as the one worker of a scenario and watch it: its "
                    "processes, what each waits in, zombies, signal masks, and its output "
                    "lines in the event log. Put `--` before the command. Or, with --pid, "
                    "watch a process of yours that is already running (and everything "
                    "under it), observed only: ipcviz never ends it, and signals it only "
                    "with --allow-signals.",
        epilog="examples:\n  ipcviz watch -- python3 examples/signal_loop.py\n"
               "  ipcviz watch --headless --json --duration 3 -- ./a.out 5\n"
               "  ipcviz watch --trace -- python3 examples/signal_loop.py\n"
               "  ipcviz watch --pid 4242 --allow-signals",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.add_argument("--headless", action="store_true",
                       help="no UI; print a summary when the program ends or --duration passes")
    watch.add_argument("--json", action="store_true", help="the summary as JSON (--headless)")
    watch.add_argument("--duration", type=float, metavar="S",
                       help=f"seconds to run headless (default {DEFAULT_WATCH_SECONDS:g})")
    watch.add_argument("--name", metavar="NAME", help="the worker's name (default: CMD's)")
    watch.add_argument("--pid", type=int, metavar="PID",
                       help="watch this running process of yours instead of starting one")
    watch.add_argument("--allow-signals", action="store_true",
                       help="with --pid: let keys send it signals (default: observe only)")
    watch.add_argument("--trace", action="store_true",
                       help="follow the program's tree with strace: exact counts of the "
                            "signals delivered and of the bytes read and written per "
                            "descriptor (slows the program's system calls; needs strace)")
    watch.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS",
                       help="the program and its arguments")


#: programs that run a script: the script's name says more
INTERPRETERS = ("python", "sh", "bash", "dash", "zsh", "perl", "ruby", "node")


def _program_name(argv: list[str]) -> str:
    """`./a.out` -> a.out; `python3 examples/signal_loop.py` -> signal_loop."""
    base = os.path.basename(argv[0])
    interpreter = re.fullmatch(r"(%s)[0-9.]*" % "|".join(INTERPRETERS), base)
    if interpreter and len(argv) > 1 and not argv[1].startswith("-"):
        return os.path.splitext(os.path.basename(argv[1]))[0]
    return base


def watch_scenario(argv: list[str], name: str | None, duration: float | None,
                   cwd: str, trace: bool = False) -> str:
    """The YAML text of a scenario whose one worker runs `argv` in `cwd`."""
    worker = name or re.sub(r"[^A-Za-z0-9_-]", "_", _program_name(argv))[:32] or "program"
    if not re.match(r"^[A-Za-z_]", worker):
        worker = "p_" + worker[:30]
    shown = " ".join(argv)
    program: dict[str, Any] = {"exec": list(argv), "cwd": cwd}
    if trace:
        program["trace"] = True
    data = {
        "name": f"watch: {shown[:60]}",
        "description": f"The program `{shown[:200]}` and every process it starts, as the "
                       "kernel shows them: state, what each waits in, zombies, signal "
                       "masks; its output lines are in the event log.",
        "duration": duration or DEFAULT_WATCH_SECONDS,
        "workers": {worker: program},
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def attach_scenario(pid: int, name: str | None, duration: float | None, signals: bool) -> str:
    """The YAML text of a scenario whose one worker watches running process `pid` (with
    its start time: the same process on a restart of the run, or none)."""
    from ipcviz.host.process import start_ticks

    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            comm = fh.read().strip()
    except OSError:
        comm = ""
    worker = name or re.sub(r"[^A-Za-z0-9_-]", "_", comm)[:32] or "process"
    if not re.match(r"^[A-Za-z_]", worker):
        worker = "p_" + worker[:30]
    data = {
        "name": f"watch: process {pid} ({comm or '?'})",
        "description": f"Process {pid} and every process under it, as the kernel shows "
                       "them: state, what each waits in, zombies, signal masks, pipes, "
                       "queues, sockets, shared memory. ipcviz did not start it and will "
                       "not end it" + ("." if signals else "; it is observed only (signals "
                                       "need --allow-signals)."),
        "duration": duration or DEFAULT_WATCH_SECONDS,
        "workers": {worker: {"attach": {"pid": pid, "signals": signals,
                                        "start": start_ticks(pid)}}},
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def watch_command(args: argparse.Namespace, launch: Callable[..., int],
                  run_headless: Callable[[argparse.Namespace], int],
                  fail: Callable[[list[str]], int]) -> int:
    """`launch`, `run_headless` and `fail` are the CLI's (this module sits beside it)."""
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    pid = getattr(args, "pid", None)
    if args.json and not args.headless:
        return fail(["watch: --json goes with --headless"])
    if pid is not None:
        if argv:
            return fail(["watch: --pid watches a running process; it takes no command"])
        if args.trace:
            return fail(["watch: --trace starts the program under strace; it does not "
                         "attach to a running one (--pid)"])
        from ipcviz.runtime.programs import attach_problem

        problem = attach_problem(pid)
        if problem:
            return fail([f"watch: {problem}"])
        return _run_made(attach_scenario(pid, args.name, args.duration, args.allow_signals),
                         args, launch, run_headless)
    if getattr(args, "allow_signals", False):
        return fail(["watch: --allow-signals goes with --pid (a program watch started may "
                     "always be signalled)"])
    if not argv:
        return fail(["watch: name a program after `--`, e.g. ipcviz watch -- python3 prog.py"
                     " (or --pid PID)"])
    if args.trace:
        from ipcviz.runtime.tracing import strace_missing

        missing = strace_missing()
        if missing:
            return fail([f"watch: {missing}"])
    program = argv[0]
    if program.endswith(".c") and os.path.isfile(program):
        from ipcviz.observe.cc import CompileError, compile_c

        try:  # compiled here, into the cache the runtime uses: an error names the source
            compile_c(program)
        except (CompileError, OSError) as exc:
            return fail([f"watch: {exc}"])
    elif os.path.isdir(program):
        return fail([f"watch: '{program}' is a directory, not a program"])
    elif ("/" in program and not os.access(program, os.X_OK)) or (
            "/" not in program and shutil.which(program) is None):
        return fail([f"watch: program '{program}' not found"
                      + ("" if "/" in program else " on PATH") + " (or not executable)"])
    return _run_made(watch_scenario(argv, args.name, args.duration, os.getcwd(), args.trace),
                     args, launch, run_headless)


def _run_made(text: str, args: argparse.Namespace, launch: Callable[..., int],
              run_headless: Callable[[argparse.Namespace], int]) -> int:
    """Run a scenario made on the spot, live or headless."""
    with tempfile.TemporaryDirectory(prefix="ipcviz-watch-") as tmp:  # private (0700)
        path = os.path.join(tmp, "watch.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        if not args.headless:
            return launch(path, None, allow_exec=True)
        run_args = argparse.Namespace(scenario=path, duration=args.duration, json=args.json,
                                      check=False, schedule=None, speed=None,
                                      allow_exec=True)
        return run_headless(run_args)

