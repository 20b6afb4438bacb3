"""The `ipcviz` argument parser, one function per subcommand (the commands with modules
of their own, like `course` and `watch`, add theirs from there). Kept apart from
cli.py, which runs the commands, so that each stays short enough to read."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ipcviz import authoring
from ipcviz.course import add_course_parser
from ipcviz.export import add_export_parser
from ipcviz.format import escape_control
from ipcviz.quiz import add_quiz_parser
from ipcviz.serve.command import add_serve_parser
from ipcviz.watch import add_allow_exec, add_watch_parser

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


class EscapingParser(argparse.ArgumentParser):
    """argparse, whose error line quotes the command line with control characters escaped:
    a file name a shell glob found (`ipcviz run ./*.yaml` in a shared directory) may have
    been planted by anyone who may write there. The subcommands' parsers are of this class
    too (add_subparsers makes them of the parser's own)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {escape_control(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    """The `ipcviz` command line: one subparser per subcommand, each added by a function
    next to (or in the module of) the command it parses."""
    parser = EscapingParser(
        prog="ipcviz",
        description="Watch real processes talk: signals, pipes, queues and shared memory, "
                    "live in your terminal.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=authoring.VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for add in (add_launch_parser, add_run_parser, add_validate_parser,
                add_screenshot_parser, add_record_parser, add_replay_parser,
                add_reading_parsers, add_watch_parser, add_quiz_parser, add_course_parser,
                add_export_parser, add_serve_parser, add_clean_parser):
        add(sub)
    return parser


def add_launch_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz launch [SCENARIO]`: the live view, or the picker."""
    launch = sub.add_parser(
        "launch", help="open the live view of a scenario (no argument: a picker)",
        description="Open the live view. SCENARIO is a file path or a bundled scenario's name; "
                    "without it a picker lists the bundled scenarios.")
    launch.add_argument("scenario", nargs="?", metavar="SCENARIO")
    launch.add_argument("--speed", type=float, metavar="F",
                        help="start speed: 1, 0.5, 0.25, ... 0.015625 (overrides `speed:`)")
    add_allow_exec(launch)


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz run SCENARIO`: live, or with --headless a summary at the end."""
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


def add_validate_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz validate FILE...`: check files without running them."""
    validate = sub.add_parser(
        "validate", help="check scenario files without running them",
        description="Check scenario files; prints one line per problem (file:line:col). "
                    "Exit status 2 if any file has a problem.")
    validate.add_argument("files", nargs="+", metavar="FILE")


def add_screenshot_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz screenshot`: a picture of the live app, or the whole gallery."""
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


def add_record_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz record SCENARIO -o FILE.jsonl`: every frame of a headless run."""
    record = sub.add_parser(
        "record", help="run a scenario headless and record its Snapshots to a file",
        description="Run SCENARIO headless and write every frame's Snapshot as one JSON line "
                    "(replay it with `ipcviz replay`).")
    record.add_argument("scenario", metavar="SCENARIO")
    record.add_argument("-o", "--output", required=True, metavar="FILE.jsonl")
    add_allow_exec(record)
    record.add_argument("--duration", type=float, metavar="S",
                        help="seconds to run (default: the scenario's `duration`)")


def add_replay_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz replay FILE.jsonl`: a recording in the app, or --check it."""
    replay = sub.add_parser(
        "replay", help="play a recording back in the live view",
        description="Show a recording made by `ipcviz record` in the app, at its own pace.")
    replay.add_argument("recording", metavar="FILE.jsonl")
    replay.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    replay.add_argument("--check", action="store_true",
                        help="do not play: check that every frame keeps the relations a real "
                             "run cannot break (docs/scenario-format.md, \"What every frame "
                             "guarantees\"); print the first frame that breaks one, exit 1")


def add_reading_parsers(sub: argparse._SubParsersAction) -> None:
    """`list`, `show`, `new`, `docs` and `schema`: reading and starting scenarios."""
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


def add_clean_parser(sub: argparse._SubParsersAction) -> None:
    """`ipcviz clean`: what crashed runs left behind."""
    clean = sub.add_parser("clean", help="remove processes and IPC objects left by crashed runs",
                                   description="Remove what runs whose ipcviz process is gone left "
                                       "behind (runs still alive are never touched).")
    clean.add_argument("--program-leaks", action="store_true",
                       help="also remove /dev/shm and message-queue objects that watched "
                            "programs (exec:) left behind, as runs reported them")
