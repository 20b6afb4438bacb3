"""Predict, then run (`ipcviz quiz`): answers graded against a real run's values; exit 0
all right, 1 any wrong, 2 bad input; bad questions are validation errors with a line."""

from __future__ import annotations

import pytest

from ipcviz.scenario.load import ScenarioError, load_scenario, load_text
from ipcviz.scenario.paths import bundled_scenarios

from .conftest import run_cli


def test_a_right_answer_exits_0_and_shows_the_run_value(nothing_left_behind) -> None:
    result = run_cli("quiz", "signals_coalescing", "--headless", "--answers", "1")
    assert result.returncode == 0, result.stderr
    assert "you said 1; the run: 1  right" in result.stdout
    assert "1 of 1 right" in result.stdout
    assert "one pending bit" in result.stdout  # the explanation


def test_a_wrong_answer_exits_1(nothing_left_behind) -> None:
    result = run_cli("quiz", "signals_coalescing", "--headless", "--answers", "50")
    assert result.returncode == 1
    assert "you said 50; the run: 1  WRONG" in result.stdout


def test_choices_by_number_or_text(nothing_left_behind) -> None:
    by_number = run_cli("quiz", "pipe_oneway", "--headless", "--answers", "2",
                        "--duration", "0.5")
    assert by_number.returncode == 0, by_number.stdout
    assert "you said 65536; the run: 65536  right" in by_number.stdout
    by_text = run_cli("quiz", "pipe_backpressure", "--headless", "--answers", "sigkill")
    assert by_text.returncode == 1
    assert "you said SIGKILL; the run: SIGPIPE  WRONG" in by_text.stdout


YES_NO = """\
version: 1
name: Is it still there
duration: 2
channels:
  obj: {kind: shm, size: 64}
workers:
  w:
    steps:
      - write: {to: obj, data: hello}
questions:
  - ask: Is its name still in /dev/shm while the run lasts?
    choices: ["true", "false"]
    answer: {channel: obj, in_dev_shm: null}
"""


def test_choices_true_and_false_grade_a_yes_or_no_value(nothing_left_behind,
                                                          scenario_file) -> None:
    """A true-or-false value graded against choices written as YAML writes them: the
    right choice is right (it was compared with Python's "True" and graded wrong)."""
    path = str(scenario_file(YES_NO))
    right = run_cli("quiz", path, "--headless", "--answers", "1")
    assert (right.returncode, right.stdout.count("  right")) == (0, 1), right.stdout
    wrong = run_cli("quiz", path, "--headless", "--answers", "false")
    assert wrong.returncode == 1 and "WRONG" in wrong.stdout, wrong.stdout


def test_answers_typed_at_the_prompt(nothing_left_behind) -> None:
    """A lost update by a fixed schedule: exact; an unreadable answer is asked again."""
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run([sys.executable, "-m", "ipcviz", "quiz", "race_by_hand",
                             "--headless"], input="one\n1\n3\n", capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("your answer:") == 3
    assert "(answer with a number)" in result.stdout
    assert "you said 1; the run: 1  right" in result.stdout
    assert "you said 3; the run: 3  right" in result.stdout


def test_bad_input_exits_2_before_anything_runs(nothing_left_behind) -> None:
    few = run_cli("quiz", "race_by_hand", "--headless", "--answers", "1,2,3")
    assert few.returncode == 2
    assert few.stderr.strip() == "--answers: 3 answer(s) for 2 question(s)"
    none = run_cli("quiz", "tests/scenarios/heat.yaml", "--headless", "--answers", "1")
    assert none.returncode == 2 and "has no `questions:`" in none.stderr
    eof = run_cli("quiz", "race_by_hand", "--headless")  # stdin is empty
    assert eof.returncode == 2 and "no answers on standard input" in eof.stderr


def test_a_question_that_names_nothing_the_summary_holds_has_its_line() -> None:
    text = """\
channels:
  p: {kind: pipe}
workers:
  w: {count: 2, steps: [{sleep: 1}]}
questions:
  - ask: one
    answer: {worker: nobody, signals_received: SIGUSR1}
  - ask: two
    answer: {channel: p, depthh: null}
  - ask: three
    answer: {worker: w, zombies: null}
  - ask: four
    answer: {channel: p}
"""
    with pytest.raises(ScenarioError) as info:
        load_text(text.encode(), "f.yaml")
    assert info.value.lines == [
        "f.yaml:7:22: questions[0].answer.worker: unknown worker 'nobody' (one process: "
        "w.0, w.1)",
        "f.yaml:9:34: questions[1].answer.depthh: unknown key 'depthh' (keys: buffered, "
        "bytes_read, bytes_written, capacity, kind, max_buffered, read_ends_open, "
        "write_ends_open)",
        "f.yaml:11:22: questions[2].answer.worker: unknown worker 'w' (one process: w.0, "
        "w.1)",
        "f.yaml:13:13: questions[3].answer: needs exactly one key of the channel (keys: "
        "buffered, bytes_read, bytes_written, capacity, kind, max_buffered, read_ends_open, "
        "write_ends_open)",
    ]


def test_six_bundled_scenarios_ask_a_question() -> None:
    asking = [p.stem for p in bundled_scenarios() if load_scenario(p).model.questions]
    assert len(asking) >= 6, asking
