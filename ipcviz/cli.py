"""Command line: launch | run | record | replay | screenshot | validate | list | show |
new | docs | schema | clean | watch | quiz | course | export | serve. Each subcommand stays
thin; their options are parsed as cli_parser.py says."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ipcviz import authoring, recording
from ipcviz.cli_parser import build_parser
from ipcviz.course import course_command
from ipcviz.export import export_command
from ipcviz.quiz import quiz_command
from ipcviz.serve.command import serve_command
from ipcviz.watch import watch_command
from ipcviz.format import escape_control
from ipcviz.scenario.opening import OpenedScenario, ScenarioError, open_scenario

if TYPE_CHECKING:
    from textual.app import App

    from ipcviz.runtime.headless import HeadlessResult
    from ipcviz.scenario.load import LoadedScenario
    from ipcviz.telemetry.snapshot import Snapshot
    from ipcviz.tui.app import IpcvizApp

# The loader (pydantic), the runtime and Textual are imported where they are used:
# `ipcviz launch` starts the runtime process first, and only then pays for its imports.


#: the commands that load, create or start something: the run root is trusted first
STARTS_THINGS = frozenset({"launch", "run", "record", "screenshot", "clean", "watch", "quiz"})


def main(argv: list[str] | None = None) -> int:
    """The `ipcviz` command: parse, check the run root where something starts, run the
    command; its exit status (2 for bad input, 130 on ^C).

    `argv` None: this process's own command line (the console script, `python -m
    ipcviz`); then a headless run that has ended ends the process at once (end_process),
    without the interpreter's teardown of every module."""
    _standard_streams()
    args = build_parser().parse_args(argv)
    command = args.command or "launch"
    if command in STARTS_THINGS:
        from ipcviz.host.runroot import RunRootError, trusted_run_root

        try:  # before anything is loaded, created or started
            trusted_run_root()
        except RunRootError as exc:
            return _fail([str(exc)])
    try:
        code = _dispatch(command, args)
        if argv is None and command == "run" and args.headless:
            return end_process(code)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ipcviz list | head`: the reader has had enough
        if _stdout_reader_gone():
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        raise  # a broken pipe of something else: a bug to see, not a silent exit 0


def _standard_streams() -> None:
    """Descriptors 0, 1 and 2 open, on /dev/null where the caller closed one (`ipcviz run
    ... >&-`): a closed standard descriptor is the number the next file opened gets (the
    telemetry table, a channel's end), where a print would then write; and Python leaves
    `sys.stdout` None for a closed 1, which the run's output and its forks use."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: `fd` itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)  # (the process's own: kept open)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)


def end_process(code: int) -> int:
    """End this process now with `code`, once everything it owes is done: its output
    flushed and the exit functions run (atexit, weakref finalizers); a headless run has
    already ended its workers, removed its cgroup, closed and unlinked its objects. What
    is skipped is the interpreter's teardown of every module and object, which frees
    memory the kernel frees anyway. Returns `code` (the normal exit follows) where
    ending at once could lose something: another thread runs, or the output cannot be
    flushed."""
    import atexit
    import threading

    if threading.active_count() > 1:
        return code
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # (a closed or broken output: the normal exit reports it)
        return code
    atexit._run_exitfuncs()
    try:  # what an exit function printed
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _dispatch(command: str, args: argparse.Namespace) -> int:
    """Run one parsed command."""
    if command == "launch":
        return _launch_command(getattr(args, "scenario", None), getattr(args, "speed", None),
                               getattr(args, "allow_exec", False))
    if command == "run":
        if not args.headless and args.schedule is not None:
            return _fail(["--schedule works with --headless for now (the live app "
                          "reads the scenario's `schedule:`)"])
        if not args.headless:
            return _launch_command(args.scenario, args.speed, args.allow_exec)
        return _run_headless(args)
    if command == "replay" and args.check:
        from ipcviz.checking import check_command

        return check_command(args.recording, _fail)
    if command in ("show", "new", "docs", "schema"):
        return int(getattr(authoring, f"{command}_command")(args))
    handlers: dict[str, Callable[[], int]] = {
        "validate": lambda: _validate(args.files),
        "record": lambda: recording.record_command(args, _headless, _fail),
        "replay": lambda: recording.replay_command(args, _fail),
        "screenshot": lambda: authoring.screenshot_command(args),
        "list": lambda: authoring.list_command(args),
        "clean": lambda: recording.clean_command(args.program_leaks, _fail),
        "watch": lambda: watch_command(args, _launch, _run_headless, _fail),
        "quiz": lambda: quiz_command(args, _run_app, _fail),
        "course": lambda: course_command(args, _run_app, _fail),
        "export": lambda: export_command(args, _fail),
        "serve": lambda: serve_command(args, _fail),
    }
    handler = handlers.get(command)
    return handler() if handler is not None else 2


def _launch_command(scenario: str | None, speed: float | None, allow_exec: bool) -> int:
    """The live app on a scenario (None: the picker), at `speed` when given."""
    from ipcviz.runtime.scheduler import speed_problem

    if speed is not None and speed_problem(speed):
        return _fail([f"--speed: {speed_problem(speed)}"])
    return _launch(scenario, speed, allow_exec)


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (poll says POLLERR)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _fail(lines: list[str]) -> int:
    for line in lines:  # lines quote the file: its control characters are shown escaped
        print(escape_control(line), file=sys.stderr)
    return 2


def _load_runnable(name: str) -> LoadedScenario:
    from ipcviz.scenario.load import load_scenario

    return load_scenario(name)


def _launch(name: str | None, speed: float | None = None, allow_exec: bool = False) -> int:
    app = _run_app(name, speed, allow_exec)
    if isinstance(app, int):
        return app
    performed = getattr(app.source, "schedule", None)
    if performed:  # what `n`/`N` (and the scenario's schedule) did: replayable, gradable
        shown = " ".join(performed)
        print(escape_control(f"schedule performed: {shown}"))
        again = name or getattr(app.source, "path", "")
        print(escape_control(f"  run it again: ipcviz run {again} "
                             f"--headless --schedule \"{shown}\""))
        if getattr(app.source, "ran_freely", False):
            print("  note: workers also ran freely before or between these steps (the run "
                  "was not paused), so this replays only the stepped part")
    return app_status(app)


def _run_app(name: str | OpenedScenario | None, speed: float | None = None,
             allow_exec: bool = False) -> IpcvizApp | int:
    """The live app on `name` (a name or path, or a file already read; None: the picker),
    run until it ends; the finished app, or an exit status when the scenario could not
    start (its lines printed)."""
    from ipcviz.tui.source import LiveSource

    source = None
    if name is not None:
        if isinstance(name, OpenedScenario):
            opened = name
        else:
            try:  # read once: the runtime runs these bytes, never the path again
                opened = open_scenario(name)
            except ScenarioError as exc:
                return _fail(exc.lines)
            if opened.note:
                print(escape_control(f"ipcviz: {opened.note}"), file=sys.stderr)
        # The runtime process checks the scenario and starts the workers while this one
        # imports Textual; its first message is an error or the first frame.
        source = LiveSource(opened, speed, allow_exec, held=True)
        source.spawn()
    app: IpcvizApp | None = None
    try:
        from ipcviz.tui.app import make_app

        if source is not None:
            problems = source.first_error()
            if problems:
                return _fail(problems)
        app = make_app(source=source, handle_signals=True)
        app.run()
    finally:  # whatever ended the app (q, a crash, a signal): stop the runtime, sweep its run
        sources = (source, app.source if app is not None else None)
        for live in {id(s): s for s in sources if s is not None}.values():
            live.stop()
            if isinstance(live, LiveSource) and live.bad_lines:
                print(f"ipcviz: {live.bad_lines} line(s) from the runtime were cut and "
                      "skipped (a bug: please report it)", file=sys.stderr)
    assert app is not None  # (the app is made, or the function returned above)
    if app.error_lines:
        return _fail(app.error_lines)
    return app


def app_status(app: App[None]) -> int:
    """The exit status of a finished app: 0 after `q`, non-zero after a crash (Textual's 1)
    or a signal (128 + its number)."""
    code = app.return_code
    return 1 if code is None else int(code)


def _headless(args: argparse.Namespace,
              on_snapshot: Callable[[Snapshot], None] | None = None) -> HeadlessResult | int:
    """The prologue every headless command shares: load the scenario, check --duration,
    run it (a kernel refusal is one line, not a traceback). Returns the HeadlessResult,
    or the exit status when the run could not happen."""
    from ipcviz.scenario.load import ScenarioError

    try:
        scenario = _load_runnable(args.scenario)
    except ScenarioError as exc:
        return _fail(exc.lines)
    problem = _duration_problem(args.duration)
    if problem:
        return _fail([problem])
    schedule, problems = _time_options(args, scenario)
    if problems:
        return _fail(problems)
    from ipcviz.runtime.headless import run_headless
    from ipcviz.runtime.supervisor import StartError

    try:
        return run_headless(scenario, args.duration, progress=sys.stderr.isatty(),
                            on_snapshot=on_snapshot, schedule=schedule,
                            speed=getattr(args, "speed", None),
                            allow_exec=getattr(args, "allow_exec", False))
    except StartError as exc:
        return _fail([f"{args.scenario}: {exc}"])


def _print_whole(text: str) -> None:
    """`print` for a long text on standard output: whole even if signals cut the write
    (host/output.py); through sys.stdout when it is no file (a test's capture)."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        print(text)
        return
    from ipcviz.host.output import write_fully

    write_fully(fd, (text + "\n").encode())


def _run_headless(args: argparse.Namespace) -> int:
    from ipcviz.runtime.headless import format_text

    result = _headless(args)
    if isinstance(result, int):
        return result
    summary = result.summary
    if args.json:
        _print_whole(json.dumps(summary, indent=2))  # ensure_ascii: controls escaped
        print(escape_control(format_text(summary), keep_newlines=True), file=sys.stderr)
    else:
        print(escape_control(format_text(summary), keep_newlines=True))
    for detail in result.leak_details:
        print(escape_control(f"left behind: {detail}"), file=sys.stderr)
    error = summary.get("schedule_error")
    if error:
        print(escape_control(f"{args.scenario}: schedule[{error['index']}]: worker "
                             f"'{error['worker']}' cannot move: {error['reason']}"),
              file=sys.stderr)
        return 1
    if args.check and not all(r["ok"] for r in summary["expect"]):
        return 1
    return 0


def _time_options(args: argparse.Namespace, scenario: LoadedScenario
                  ) -> tuple[list[str] | None, list[str]]:
    """--schedule as a list of names (None: the scenario's), and the problems of it and
    of --speed, one line each."""
    from ipcviz.runtime.scheduler import parse_schedule, speed_problem
    from ipcviz.scenario.timing import schedule_problems

    problems = []
    speed = getattr(args, "speed", None)  # `record` has neither option
    if speed is not None and speed_problem(speed):
        problems.append(f"--speed: {speed_problem(speed)}")
    if getattr(args, "schedule", None) is None:
        return None, problems
    schedule = parse_schedule(args.schedule)
    if not schedule:
        problems.append("--schedule: is empty; name at least one worker")
    problems += [f"--schedule[{i}]: {text}"
                 for i, text in schedule_problems(schedule, scenario.model.workers)]
    return schedule, problems


def _duration_problem(duration: float | None) -> str | None:
    """--duration must be a finite number of seconds in (0, 24 h]; NaN or inf never ends."""
    from ipcviz.scenario.schema import MAX_DURATION

    if duration is None or 0 < duration <= MAX_DURATION:  # False for NaN
        return None
    return f"--duration: {duration} is not a number of seconds in (0, {MAX_DURATION}]"


def _validate(files: list[str]) -> int:
    from ipcviz.scenario.load import ScenarioError, load_scenario

    status = 0
    for name in files:
        try:
            load_scenario(name)
        except ScenarioError as exc:
            _fail(exc.lines)
            status = 2
        else:
            print(escape_control(f"{name}: ok"))
    return status


if __name__ == "__main__":
    sys.exit(main())
