"""`ipcviz quiz NAME`: predict, then run. The scenario's `questions:` are asked first (or
answered with `--answers`), the scenario runs on real processes (live, or `--headless`),
and each answer is shown beside the value the run produced, with the explanation.
Exit status: 0 all right, 1 any wrong, 2 bad input (a teacher can grade in a script).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipcviz.format import escape_control

#: a true value the summary does not hold (a worker that never started, say)
MISSING = object()


def add_quiz_parser(sub: argparse._SubParsersAction) -> None:
    quiz = sub.add_parser(
        "quiz", help="predict, then run: answer the scenario's questions, then see",
        description="Ask the scenario's questions, run it on real processes, then show each "
                    "answer beside the true value with the explanation. Exit status: 0 all "
                    "right, 1 any wrong, 2 bad input.",
        epilog="examples:\n  ipcviz quiz signals_coalescing\n"
               "  ipcviz quiz signals_coalescing --headless --answers 1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    quiz.add_argument("scenario", metavar="SCENARIO", help="file path or bundled name")
    quiz.add_argument("--answers", metavar="'A,B,...'",
                      help="the answers, in order, comma-separated (a number, or a choice's "
                           "number or text): no prompting")
    quiz.add_argument("--headless", action="store_true", help="run without the live view")
    quiz.add_argument("--duration", type=float, metavar="S",
                      help="seconds to run (default: the scenario's `duration`)")
    quiz.add_argument("--seed", type=int, metavar="N",
                      help="vary the lesson's givens (counts, sizes) by N, where it allows "
                           "it, so two students do not share answers")
    quiz.add_argument("--report", metavar="FILE.json",
                      help="also write a small JSON report to hand in: the lesson, each "
                           "question, your answer, the run's value, right or wrong (a new "
                           "file, or your own regular file; never through a link)")


def duration_problem(duration: float | None) -> str | None:
    """--duration must be a number of seconds in (0, 24 h] (NaN, 0 or -1 would run a
    lesson for no time at all and grade what never happened)."""
    from ipcviz.scenario.schema import MAX_DURATION

    if duration is None or 0 < duration <= MAX_DURATION:  # False for NaN
        return None
    return f"--duration: {duration} is not a number of seconds in (0, {MAX_DURATION}]"


def true_value(summary: dict[str, Any], answer: dict[str, Any]) -> Any:
    """The value an `answer:` path names in a headless summary (see docs: questions)."""
    what = "worker" if "worker" in answer else "channel"
    entry = summary.get(f"{what}s", {}).get(answer[what])
    if entry is None:
        return MISSING
    (key, item), = ((k, v) for k, v in answer.items() if k != what)
    value = entry.get(key, MISSING)
    if isinstance(item, str) and item and value is not MISSING:
        # per-signal and per-channel counts leave out what is zero
        value = value.get(item, 0) if isinstance(value, dict) else MISSING
    return value


def parse_answer(text: str, question: Any) -> tuple[Any, str | None]:
    """The student's answer as a value, or (None, why it is not one)."""
    text = text.strip()
    if question.choices:
        if text.isdigit() and 1 <= int(text) <= len(question.choices):
            return question.choices[int(text) - 1], None
        for choice in question.choices:
            if choice.lower() == text.lower():
                return choice, None
        return None, f"answer with 1..{len(question.choices)} or a choice's text"
    try:
        number = float(text)
    except ValueError:
        return None, "answer with a number"
    return (int(number) if number.is_integer() else number), None


def is_right(given: Any, actual: Any, question: Any) -> bool:
    if actual is MISSING or given is None:
        return False
    if question.choices:
        if isinstance(actual, bool):  # a YAML author writes true, Python says True
            return str(given).strip().lower() == str(actual).lower()
        return str(given) == str(actual)
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    return abs(given - actual) <= question.tolerance


def _shown(value: Any) -> str:
    return "(not in the run)" if value is MISSING else str(value)


def ask(questions: list[Any], read: Callable[[str], str]) -> list[Any]:
    """Each question on the terminal until it gets an answer it can read."""
    answers = []
    for i, question in enumerate(questions, 1):
        print()
        print(escape_control(f"{i}. {question.ask}"))
        for n, choice in enumerate(question.choices or [], 1):
            print(escape_control(f"   {n}) {choice}"))
        while True:
            given, problem = parse_answer(read("   your answer: "), question)
            if problem is None:
                answers.append(given)
                break
            print(f"   ({problem})")
    return answers


def quiz_command(args: argparse.Namespace, launch_app: Callable[..., Any],
                 fail: Callable[[list[str]], int]) -> int:
    """`launch_app(path)` runs the live view and returns the app (the CLI's)."""
    from ipcviz.scenario.load import ScenarioError, load_scenario

    problem = duration_problem(args.duration)
    if problem:
        return fail([problem])
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return fail(exc.lines)
    try:
        scenario = seeded(scenario, getattr(args, "seed", None))
    except ScenarioError as exc:
        return fail(exc.lines)
    questions = list(scenario.model.questions)
    if not questions:
        return fail([f"{args.scenario}: this scenario has no `questions:`"])
    if getattr(args, "report", None):
        from ipcviz.host.outputs import output_problem

        problem = output_problem(args.report)  # before the run: a refusal costs nothing
        if problem:
            return fail([f"--report: {problem}"])
    if args.answers is not None:
        parts = args.answers.split(",")
        if len(parts) != len(questions):
            return fail([f"--answers: {len(parts)} answer(s) for {len(questions)} "
                         f"question(s)"])
        answers = []
        for i, (part, question) in enumerate(zip(parts, questions), 1):
            given, problem = parse_answer(part, question)
            if problem:
                return fail([f"--answers: answer {i} ({part.strip()!r}): {problem}"])
            answers.append(given)
    else:
        try:
            answers = ask(questions, input)
        except EOFError:
            return fail(["quiz: no answers on standard input (or give --answers)"])
    graded = run_and_grade(scenario, answers, args, launch_app, fail)
    if isinstance(graded, int):
        return graded
    wrong = sum(not entry["right"] for entry in graded)
    if getattr(args, "report", None):
        problem = write_report(args.report, scenario, graded)
        if problem:
            return fail([f"--report: {problem}"])
        print(escape_control(f"report written to {args.report}"), file=sys.stderr)
    return 1 if wrong else 0


def seeded(scenario: Any, seed: int | None) -> Any:
    """The lesson with its givens for `seed` (vary.py: the file's own without one) and its
    questions' `{NAME}` filled in; as loaded when it varies nothing. The live run gets
    these bytes (never the file again). ScenarioError if the varied file does not load."""
    import dataclasses

    from ipcviz.scenario.load import load_text
    from ipcviz.scenario.vary import varied

    if not scenario.model.vary:
        return scenario
    opened = scenario.opened
    raw = opened.raw if opened is not None else Path(scenario.path).read_bytes()
    text = varied(raw, scenario.model, seed)
    loaded = load_text(text, scenario.path)
    return dataclasses.replace(
        loaded, path=scenario.path,
        opened=None if opened is None else dataclasses.replace(opened, raw=text))


def run_and_grade(scenario: Any, answers: list[Any], args: argparse.Namespace,
                  launch_app: Callable[..., Any], fail: Callable[[list[str]], int]
                  ) -> list[dict[str, Any]] | int:
    """Run the scenario (`args.headless`, `args.duration`), then show each answer beside
    the run's value with the explanation; the graded questions, or an exit status when
    the run could not happen. `ipcviz course` grades its lessons with it too."""
    questions = list(scenario.model.questions)
    print(file=sys.stderr)
    held = getattr(scenario.model, "start", "running") == "held"
    print(escape_control(f"running {scenario.name} on real processes"
                         + ("…" if args.headless else
                            " (it starts held: space runs it, n steps; q when you have "
                            "seen enough)…" if held else " (q when you have seen enough)…")),
          file=sys.stderr)
    summary = _run(scenario, args, launch_app, fail)
    if isinstance(summary, int):
        return summary
    graded = []
    print()
    for i, (question, given) in enumerate(zip(questions, answers), 1):
        actual = true_value(summary, question.answer)
        right = is_right(given, actual, question)
        graded.append(graded_entry(question, given, actual, right))
        mark = "right" if right else "WRONG"
        within = f" (±{question.tolerance:g})" if question.tolerance and not question.choices \
            else ""
        print(escape_control(f"{i}. {question.ask}"))
        print(escape_control(f"   you said {given}; the run: {_shown(actual)}{within}  "
                             f"{mark}"))
        if question.explain:
            print(escape_control(f"   {' '.join(question.explain.split())}"))
    right_count = sum(entry["right"] for entry in graded)
    print(f"\n{right_count} of {len(questions)} right")
    return graded


def graded_entry(question: Any, given: Any, actual: Any, right: bool) -> dict[str, Any]:
    """One question of a report: what was asked, answered, and what the run said."""
    entry = {"ask": question.ask, "answer": given,
             "run_value": None if actual is MISSING else actual, "right": right}
    if question.choices:
        entry["choices"] = list(question.choices)
    elif question.tolerance:
        entry["tolerance"] = question.tolerance
    return entry


def write_report(path: str, scenario: Any, graded: list[dict[str, Any]]) -> str | None:
    """The JSON report a student hands in, written as an output file (host/outputs.py:
    never through a link, never over what is not the user's own regular file); the
    problem as one line, or None."""
    import json
    from pathlib import Path

    from ipcviz.host.outputs import OutputRefused, write_output

    right = sum(entry["right"] for entry in graded)
    report = {"lesson": Path(scenario.path).stem, "title": scenario.name,
              "right": right, "questions_asked": len(graded), "questions": graded}
    try:
        write_output(path, (json.dumps(report, indent=2) + "\n").encode())
    except OutputRefused as exc:
        return str(exc)
    return None


def _run(scenario: Any, args: argparse.Namespace, launch_app: Callable[..., Any],
         fail: Callable[[list[str]], int]) -> dict[str, Any] | int:
    """The run's summary: headless, or from the live view's last frame."""
    from ipcviz.runtime.supervisor import StartError
    from ipcviz.telemetry.summary import build_summary

    if args.headless:
        from ipcviz.runtime.headless import run_headless

        try:
            return run_headless(scenario, args.duration,
                                progress=sys.stderr.isatty()).summary
        except StartError as exc:
            return fail([f"{args.scenario}: {exc}"])
    app = launch_app(scenario.opened or scenario.path)  # the bytes the questions came from
    if isinstance(app, int):
        return app
    if app.latest is None:
        return fail([f"{args.scenario}: the run ended before its first frame"])
    return build_summary(app.latest, app.latest.elapsed, {}, [])
