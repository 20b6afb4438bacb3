"""Command line: launch | run | record | replay | screenshot | validate | list | show |
new | docs | schema | clean | watch | quiz | course | export | serve. Each subcommand stays
thin."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn

from ipcviz import authoring, recording
from ipcviz.course import add_course_parser, course_command
from ipcviz.export import add_export_parser, export_command
from ipcviz.quiz import add_quiz_parser, quiz_command
from ipcviz.serve.command import add_serve_parser, serve_command
from ipcviz.watch import add_allow_exec, add_watch_parser, watch_command
from ipcviz.format import escape_control
from ipcviz.scenario.opening import OpenedScenario, ScenarioError, open_scenario

# The loader (pydantic), the runtime and Textual are imported where they are used:
# `ipcviz launch` starts the runtime process first, and only then pays for its imports.

EXAMPLES = """\
examples:
  ipcviz                                  pick a bundled scenario and watch it
  ipcviz launch pipe_two_way              open a bundled scenario by name
  ipcviz launch my_lesson.yaml            open your own scenario file
  ipcviz run pipe_two_way --headless --json --check
                                          run without a UI, print the JSON summary,
                                          exit 1 if an `expect:` check fails
  ipcviz validate scenarios/*.yaml        check files without running them
  ipcviz new my_lesson.yaml --from pipe_two_way
                                          start your own scenario from a bundled one
  ipcviz docs                             the scenario format reference
  ipcviz clean                            remove what crashed runs left behind
"""


class _Parser(argparse.ArgumentParser):
    """argparse, whose error line quotes the command line with control characters escaped:
    a file name a shell glob found (`ipcviz run ./*.yaml` in a shared directory) may have
    been planted by anyone who may write there. The subcommands' parsers are of this class
    too (add_subparsers makes them of the parser's own)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape_control(message)}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ipcviz",
        description="Watch real processes talk: signals, pipes, queues and shared memory, "
                    "live in your terminal.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=authoring.VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    launch = sub.add_parser(
        "launch", help="open the live view of a scenario (no argument: a picker)",
        description="Open the live view. SCENARIO is a file path or a bundled scenario's name; "
                    "without it a picker lists the bundled scenarios.")
    launch.add_argument("scenario", nargs="?", metavar="SCENARIO")
    launch.add_argument("--speed", type=float, metavar="F",
                        help="start speed: 1, 0.5, 0.25, ... 0.015625 (overrides `speed:`)")
    add_allow_exec(launch)

    run = sub.add_parser(
        "run", help="run a scenario (--headless: no UI, print a summary)",
        description="Run a scenario. With --headless it runs without a UI until every worker "
                    "has ended or the duration has passed, then prints a summary. "
                    "Exit status: 0 ok, 1 a failed --check, 2 a scenario that does not load.")
    run.add_argument("scenario", metavar="SCENARIO", help="file path or bundled name")
    run.add_argument("--headless", action="store_true", help="no UI; print a summary at the end")
    run.add_argument("--duration", type=float, metavar="S",
                     help="seconds to run (default: the scenario's `duration`, else 10)")
    run.add_argument("--json", action="store_true",
                     help="print the summary as one JSON object on stdout")
    run.add_argument("--check", action="store_true",
                     help="verify the scenario's `expect:` block; exit 1 if any check fails")
    run.add_argument("--schedule", metavar="'A B A B'",
                     help="worker names, each letting that worker take its next operation "
                          "(overrides the scenario's `schedule:`; exit 1 if it cannot be "
                          "followed); with --headless")
    run.add_argument("--speed", type=float, metavar="F",
                     help="start speed: 1, 0.5, 0.25, ... 0.015625 (overrides `speed:`); "
                          "with --headless")
    add_allow_exec(run)

    validate = sub.add_parser(
        "validate", help="check scenario files without running them",
        description="Check scenario files; prints one line per problem (file:line:col). "
                    "Exit status 2 if any file has a problem.")
    validate.add_argument("files", nargs="+", metavar="FILE")

    shot = sub.add_parser(
        "screenshot", help="run a scenario live and save a picture of the app",
        description="Run SCENARIO live, wait --at seconds, save the screen as SVG "
                    "(and PNG when rsvg-convert or cairosvg is installed).")
    shot.add_argument("scenario", metavar="SCENARIO", nargs="?",
                      help="file path or bundled name (omit with --all)")
    shot.add_argument("--all", action="store_true",
                      help="every bundled scenario at its gallery moment, into -o DIR")
    shot.add_argument("--at", type=float, default=2.0, metavar="SECONDS",
                      help="run time at which to take the picture (default 2)")
    shot.add_argument("--size", default="120x40", metavar="WxH",
                      help="terminal size in cells (default 120x40)")
    shot.add_argument("-o", "--output", metavar="FILE.svg|DIR",
                      help="where to save (default ./NAME.svg; with --all: the directory, "
                           "required)")
    shot.add_argument("--press", action="append", default=[], metavar="KEY",
                      help="keys to press before the picture (repeatable)")

    record = sub.add_parser(
        "record", help="run a scenario headless and record its Snapshots to a file",
        description="Run SCENARIO headless and write every frame's Snapshot as one JSON line "
                    "(replay it with `ipcviz replay`).")
    record.add_argument("scenario", metavar="SCENARIO")
    record.add_argument("-o", "--output", required=True, metavar="FILE.jsonl")
    add_allow_exec(record)
    record.add_argument("--duration", type=float, metavar="S",
                        help="seconds to run (default: the scenario's `duration`)")

    replay = sub.add_parser(
        "replay", help="play a recording back in the live view",
        description="Show a recording made by `ipcviz record` in the app, at its own pace.")
    replay.add_argument("recording", metavar="FILE.jsonl")
    replay.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    replay.add_argument("--check", action="store_true",
                        help="do not play: check that every frame keeps the relations a real "
                             "run cannot break (docs/scenario-format.md, \"What every frame "
                             "guarantees\"); print the first frame that breaks one, exit 1")

    listing = sub.add_parser("list", help="list the bundled scenarios",
                             description="List the bundled scenarios: name, title and the "
                                         "first sentence of each description.")
    listing.add_argument("--long", action="store_true", help="the whole description")
    show = sub.add_parser("show", help="print a bundled scenario's YAML",
                          description="Print a bundled scenario as shipped, to read or copy.")
    show.add_argument("name", metavar="NAME")
    new = sub.add_parser("new", help="write a starter scenario file to edit",
                         description="Write a commented starter scenario (or, with --from, a "
                                     "copy of a bundled one) to FILE. Never overwrites.")
    new.add_argument("file", metavar="FILE")
    new.add_argument("--from", dest="from_", metavar="NAME", help="copy this bundled scenario")
    docs = sub.add_parser("docs", help="the scenario format reference (opens in the pager)",
                          description="The scenario format reference: on a terminal in "
                                      "$PAGER (default less), else printed whole.")
    docs.add_argument("--path", action="store_true",
                      help="print where the reference file is instead")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format",
                   description="Print the JSON Schema of scenario files, for editors "
                               "(yaml-language-server).")
    add_watch_parser(sub)
    add_quiz_parser(sub)
    add_course_parser(sub)
    add_export_parser(sub)
    add_serve_parser(sub)
    clean = sub.add_parser("clean", help="remove processes and IPC objects left by crashed runs",
                   description="Remove what runs whose ipcviz process is gone left behind "
                               "(runs still alive are never touched).")
    clean.add_argument("--program-leaks", action="store_true",
                       help="also remove /dev/shm and message-queue objects that watched "
                            "programs (exec:) left behind, as runs reported them")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "launch"
    if command in ("launch", "run", "record", "screenshot", "clean", "watch", "quiz"):
        from ipcviz.host.runroot import RunRootError, trusted_run_root

        try:  # before anything is loaded, created or started
            trusted_run_root()
        except RunRootError as exc:
            return _fail([str(exc)])
    try:
        if command == "launch":
            from ipcviz.runtime.scheduler import speed_problem

            speed = getattr(args, "speed", None)
            if speed is not None and speed_problem(speed):
                return _fail([f"--speed: {speed_problem(speed)}"])
            return _launch(getattr(args, "scenario", None), speed,
                           getattr(args, "allow_exec", False))
        if command == "run":
            if not args.headless and args.schedule is not None:
                return _fail(["--schedule works with --headless for now (the live app "
                              "reads the scenario's `schedule:`)"])
            if not args.headless:
                from ipcviz.runtime.scheduler import speed_problem

                if args.speed is not None and speed_problem(args.speed):
                    return _fail([f"--speed: {speed_problem(args.speed)}"])
                return _launch(args.scenario, args.speed, args.allow_exec)
            return _run_headless(args)
        if command == "validate":
            return _validate(args.files)
        if command == "record":
            return recording.record_command(args, _headless, _fail)
        if command == "replay":
            if args.check:
                from ipcviz.checking import check_command

                return check_command(args.recording, _fail)
            return recording.replay_command(args, _fail)
        if command == "screenshot":
            return authoring.screenshot_command(args)
        if command == "list":
            return authoring.list_command(args)
        if command in ("show", "new", "docs", "schema"):
            return getattr(authoring, f"{command}_command")(args)
        if command == "clean":
            return recording.clean_command(args.program_leaks, _fail)
        if command == "watch":
            return watch_command(args, _launch, _run_headless, _fail)
        if command == "quiz":
            return quiz_command(args, _run_app, _fail)
        if command == "course":
            return course_command(args, _run_app, _fail)
        if command == "export":
            return export_command(args, _fail)
        if command == "serve":
            return serve_command(args, _fail)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ipcviz list | head`: the reader has had enough
        if _stdout_reader_gone():
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        raise  # a broken pipe of something else: a bug to see, not a silent exit 0
    return 2


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


def _load_runnable(name: str):
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
        print(escape_control(f"  run it again: ipcviz run {name or app.source.path} "
                             f"--headless --schedule \"{shown}\""))
        if getattr(app.source, "ran_freely", False):
            print("  note: workers also ran freely before or between these steps (the run "
                  "was not paused), so this replays only the stepped part")
    return app_status(app)


def _run_app(name: str | OpenedScenario | None, speed: float | None = None,
             allow_exec: bool = False):
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
    app = None
    try:
        from ipcviz.tui.app import make_app

        if source is not None:
            problems = source.first_error()
            if problems:
                return _fail(problems)
        app = make_app(source=source, handle_signals=True)
        app.run()
    finally:  # whatever ended the app (q, a crash, a signal): stop the runtime, sweep its run
        for live in {id(s): s for s in (source, app and app.source) if s is not None}.values():
            live.stop()
            if getattr(live, "bad_lines", 0):
                print(f"ipcviz: {live.bad_lines} line(s) from the runtime were cut and "
                      "skipped (a bug: please report it)", file=sys.stderr)
    if app.error_lines:
        return _fail(app.error_lines)
    return app


def app_status(app) -> int:
    """The exit status of a finished app: 0 after `q`, non-zero after a crash (Textual's 1)
    or a signal (128 + its number)."""
    code = app.return_code
    return 1 if code is None else int(code)


def _headless(args: argparse.Namespace, on_snapshot=None):
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


def _time_options(args: argparse.Namespace, scenario) -> tuple[list[str] | None, list[str]]:
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
