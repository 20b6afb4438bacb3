"""`ipcviz course`: the bundled lessons as a course a student can take alone, in the
order of a first OS course on IPC. It opens on the next lesson not yet done; each lesson
asks its questions (predict), runs live on real processes, and ends with each answer
beside the run's value; then Enter goes on to the next lesson, `b` back, `r` again.
Progress (done, right of asked) is kept per user (course_progress.py); `--list` shows
it, `--reset` forgets it.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from ipcviz.format import escape_control

#: the chapters and their lessons, in order (scenario/paths.py's COURSE_ORDER, which
#: orders the picker and `ipcviz list`, is the same list)
CHAPTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Signals", ("signals_handlers", "signals_coalescing", "sigchld_zombies",
                 "sigaction_flags")),
    ("Pipes and FIFOs", ("pipe_oneway", "pipe_two_way", "pipe_bidirectional_race",
                         "pipe_backpressure", "fifo_unrelated", "fifo_both_ways",
                         "pipe_eof_never", "shell_pipeline")),
    ("Message queues and capacity", ("mqueue_bounded", "sysv_message_types",
                                     "mailbox_indirect", "queue_capacity",
                                     "nonblocking_receive", "message_duplication")),
    ("Sockets and RPC", ("socket_echo", "tcp_handshake", "udp_vs_tcp", "rpc_call")),
    ("Shared memory, races and locks", ("fork_address_spaces", "shm_numpy",
                                        "shm_lifetime", "shm_signal_notify",
                                        "shm_counter_race", "race_by_hand",
                                        "counting_semaphore")),
    ("Files and mmap", ("mmap_file", "mmap_window", "file_handoff")),
    ("Deadlock", ("deadlock", "deadlock_by_hand")),
    ("Putting it together", ("echo_store_server", "syscall_cost", "speed_race")),
)
LESSONS: tuple[str, ...] = tuple(name for _, names in CHAPTERS for name in names)

#: what the prompt between lessons takes
NEXT_KEYS = "Enter: next lesson · b: back · r: again · q: stop"


def add_course_parser(sub: argparse._SubParsersAction) -> None:
    course = sub.add_parser(
        "course", help="take the bundled lessons as a course, with your progress kept",
        description="The bundled lessons in order, chapter by chapter. Opens on the next "
                    "lesson not yet done: answer its questions, watch it run, see each "
                    "answer beside the run's value; then Enter goes on, b goes back. "
                    "Progress is kept in $XDG_STATE_HOME/ipcviz/course.json (else "
                    "~/.local/state/ipcviz/course.json).",
        epilog="examples:\n  ipcviz course\n  ipcviz course --list\n"
               "  ipcviz course --lesson race_by_hand\n  ipcviz course --reset",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    course.add_argument("--list", action="store_true",
                        help="print the chapters and lessons in order, each with its mark")
    course.add_argument("--reset", action="store_true", help="forget the progress")
    course.add_argument("--lesson", metavar="NAME", help="open this lesson (not the next one)")
    course.add_argument("--headless", action="store_true",
                        help="run each lesson without the live view")
    course.add_argument("--seed", type=int, metavar="N",
                        help="vary each lesson's givens (counts, sizes) by N, where it "
                             "allows it, so two students do not share answers")
    course.add_argument("--duration", type=float, metavar="S",
                        help="seconds to run each lesson headless (default: its `duration`)")


def chapter_of(lesson: str) -> tuple[int, str]:
    """The chapter's number (from 1) and title."""
    for number, (title, names) in enumerate(CHAPTERS, 1):
        if lesson in names:
            return number, title
    raise KeyError(lesson)


def next_lesson(progress: Any) -> str | None:
    """The first lesson not yet done, or None when every one is."""
    return next((name for name in LESSONS if not progress.done(name)), None)


def mark(progress: Any, lesson: str, upcoming: str | None) -> tuple[str, str]:
    """A lesson's mark and the words after its title."""
    entry = progress.lessons.get(lesson)
    if entry and entry.get("done"):
        score = f"{entry['right']}/{entry['asked']} right"
        return ("✓" if entry["right"] == entry["asked"] else "✗"), score
    if lesson == upcoming:
        return "▶", "next"
    return "·", ""


def list_lines(progress: Any, titles: dict[str, str], where: str) -> list[str]:
    """What `--list` prints."""
    done = [name for name in LESSONS if progress.done(name)]
    perfect = [name for name in done
               if progress.lessons[name]["right"] == progress.lessons[name]["asked"]]
    upcoming = next_lesson(progress)
    lines = [f"ipcviz course: {len(LESSONS)} lessons in {len(CHAPTERS)} chapters; "
             f"{len(done)} done, {len(perfect)} of them all right (progress: {where})",
             "marks: ✓ done, all right · ✗ done, not all right · ▶ next · · not yet"]
    for number, (title, names) in enumerate(CHAPTERS, 1):
        lines.append("")
        lines.append(f"{number}. {title}")
        for name in names:
            sign, words = mark(progress, name, upcoming)
            lines.append(f"   {sign} {name:<25} {titles.get(name, ''):<42} {words}".rstrip())
    return lines


def course_command(args: argparse.Namespace, launch_app: Callable[..., Any],
                   fail: Callable[[list[str]], int]) -> int:
    """The command; `launch_app(path)` runs the live view (the CLI's)."""
    from ipcviz import course_progress as store

    from ipcviz.quiz import duration_problem

    if sum(map(bool, (args.list, args.reset, args.lesson))) > 1:
        return fail(["course: give one of --list, --reset, --lesson"])
    problem = duration_problem(args.duration)
    if problem:
        return fail([problem])
    if args.reset:
        try:
            forgot = store.reset()
        except store.ProgressError as exc:
            return fail([str(exc)])
        print(escape_control(f"course progress forgotten ({store.progress_path()})" if forgot
                             else "course: no progress to forget"))
        return 0
    progress = store.load()
    if progress.problem:
        print(escape_control(f"course: {progress.problem}"), file=sys.stderr)
    if args.list:
        lines = list_lines(progress, _titles(), str(store.progress_path()))
        print(escape_control("\n".join(lines), keep_newlines=True))
        return 0
    if args.lesson is not None and args.lesson not in LESSONS:
        return fail([f"--lesson: unknown lesson '{args.lesson}' (lessons: "
                     f"{', '.join(LESSONS)})"])
    start = args.lesson or next_lesson(progress)
    if start is None:
        print("course: every lesson is done. `ipcviz course --list` shows how; "
              "--lesson NAME opens one again, --reset starts afresh.")
        return 0
    from ipcviz.host.runroot import RunRootError, trusted_run_root

    try:  # before anything is started, as for `run` and `quiz`
        trusted_run_root()
    except RunRootError as exc:
        return fail([str(exc)])
    return _take(LESSONS.index(start), progress, args, launch_app, fail)


def _take(index: int, progress: Any, args: argparse.Namespace,
          launch_app: Callable[..., Any], fail: Callable[[list[str]], int]) -> int:
    """Lesson after lesson from `index`, until the student stops or the course ends."""
    from ipcviz import course_progress as store
    from ipcviz.quiz import ask, run_and_grade, seeded
    from ipcviz.scenario.load import ScenarioError, load_scenario

    while True:
        lesson = LESSONS[index]
        try:
            scenario = seeded(load_scenario(lesson), args.seed)
        except ScenarioError as exc:
            return fail(exc.lines)
        _introduce(index, scenario)
        questions = list(scenario.model.questions)
        try:
            answers = ask(questions, input)
        except EOFError:
            print("\ncourse: stopped (no more input); `ipcviz course` goes on from here")
            return 0
        run = argparse.Namespace(scenario=lesson, headless=args.headless,
                                 duration=args.duration)
        graded = run_and_grade(scenario, answers, run, launch_app, fail)
        if isinstance(graded, int):
            return graded
        progress.record(lesson, sum(g["right"] for g in graded), len(graded))
        try:
            store.save(progress)
        except store.ProgressError as exc:
            print(escape_control(f"course: {exc}"), file=sys.stderr)
        step = _between(index)
        if step is None:
            return 0
        index = max(0, index + step)
        if index >= len(LESSONS):
            print("\nThat was the last lesson. `ipcviz course --list` shows your marks.")
            return 0


def _introduce(index: int, scenario: Any) -> None:
    """The lesson's place in the course and what it is about."""
    lesson = LESSONS[index]
    number, title = chapter_of(lesson)
    print()
    print(escape_control(f"── Chapter {number}: {title} · lesson {index + 1} of "
                         f"{len(LESSONS)}: {lesson} ({scenario.name}) ──"))
    text = " ".join(scenario.model.description.split())
    for line in textwrap.wrap(text, 88):
        print(escape_control(line))
    print("\nPredict first: answer before it runs.")


def _between(index: int) -> int | None:
    """What the student wants after a lesson: +1 next, -1 back, 0 again, None stop."""
    upcoming = LESSONS[index + 1] if index + 1 < len(LESSONS) else "the end"
    while True:
        try:
            key = input(f"\n{NEXT_KEYS} (next: {upcoming}) ").strip().lower()
        except EOFError:
            print()
            return None
        if key in ("", "n", "next"):
            return 1
        if key in ("b", "back"):
            return -1
        if key in ("r", "again"):
            return 0
        if key in ("q", "quit", "stop"):
            return None
        print(f"   ({NEXT_KEYS})")


def _titles() -> dict[str, str]:
    """Each lesson's title, as `ipcviz list` shows it."""
    from ipcviz.scenario.load import ScenarioError, load_scenario

    titles = {}
    for name in LESSONS:
        try:
            titles[name] = load_scenario(name).name
        except ScenarioError:
            titles[name] = "(does not load)"
    return titles
