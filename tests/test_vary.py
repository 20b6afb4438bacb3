"""`--seed N`: a lesson's givens varied (`vary:`), the questions saying the value in use,
graded against the run of the varied lesson; a `vary:` that names nothing of its file is
an error with its line."""

from __future__ import annotations

import pytest

from ipcviz.quiz import seeded
from ipcviz.scenario.load import ScenarioError, load_scenario, load_text
from ipcviz.scenario.vary import chosen

from .conftest import run_cli

BAD = """\
workers:
  w: {loop: 5, steps: [{sleep: 0.1}]}
vary:
  - {name: n, at: [workers.w.loop, workers.w.count, workers.nobody.loop], values: [4, 6]}
  - {name: n, at: [workers.w.steps.0.sleep], values: [1, 2]}
questions:
  - ask: "{n} then {m}?"
    answer: {worker: w, exit: null}
"""


def test_a_vary_that_names_nothing_of_its_file_has_its_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(BAD.encode(), "f.yaml")
    assert info.value.lines == [
        "f.yaml:4:20: vary[0].at[0]: 'workers.w.loop' is 5 in the file; the first of "
        "`values` must be it",
        "f.yaml:4:36: vary[0].at[1]: 'workers.w.count' is 1 in the file; the first of "
        "`values` must be it",
        "f.yaml:4:53: vary[0].at[2]: 'workers.nobody.loop' names nothing in this file",
        "f.yaml:5:12: vary[1].name: 'n' is already a given",
        "f.yaml:5:20: vary[1].at[0]: 'workers.w.steps.0.sleep' is 0.1 in the file; the "
        "first of `values` must be it",
        "f.yaml:7:10: questions[0].ask: {m} names no given of `vary:` (n)",
    ]


def test_a_seed_picks_a_given_and_the_questions_say_it() -> None:
    lesson = load_scenario("mmap_file")
    assert chosen(lesson.model, None) == {"n": 8}  # no seed: the file as written
    assert "mapping 8 times" in seeded(lesson, None).model.questions[0].ask
    picks = {seed: chosen(lesson.model, seed)["n"] for seed in range(1, 30)}
    assert picks == {seed: chosen(lesson.model, seed)["n"] for seed in range(1, 30)}
    assert len(set(picks.values())) > 2  # two students do not share answers
    varied = seeded(lesson, 1)
    assert varied.model.workers["scribe"].loop == picks[1]
    assert f"mapping {picks[1]} times" in varied.model.questions[0].ask
    assert varied.opened is not None and varied.opened.raw != lesson.opened.raw
    assert seeded(load_scenario("deadlock"), 1).opened.raw == \
        load_scenario("deadlock").opened.raw  # nothing to vary: as written


@pytest.mark.parametrize("lesson,answers", [
    ("mmap_file", lambda n: [19 * n]),
    ("sigchld_zombies", lambda n: [n, 0]),
])
def test_a_seeded_lesson_is_graded_against_its_own_run(lesson, answers,
                                                        nothing_left_behind) -> None:
    model = load_scenario(lesson).model
    seed = next(s for s in range(1, 50) if chosen(model, s)["n"] != chosen(model, None)["n"])
    n = chosen(model, seed)["n"]
    given = ",".join(str(a) for a in answers(n))
    result = run_cli("quiz", lesson, "--headless", "--seed", str(seed), "--answers", given)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f" {n} " in result.stdout.split("\n")[1]  # the question says the given in use
    count = len(answers(n))
    assert f"{count} of {count} right" in result.stdout


def test_the_course_takes_a_seed_too(tmp_path, nothing_left_behind) -> None:
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    model = load_scenario("mmap_file").model
    seed = next(s for s in range(1, 50) if chosen(model, s)["n"] != 8)
    n = chosen(model, seed)["n"]
    result = subprocess.run(
        [sys.executable, "-m", "ipcviz", "course", "--headless", "--seed", str(seed),
         "--lesson", "mmap_file"], input=f"{19 * n}\n", capture_output=True, text=True,
        cwd=ROOT, timeout=60, env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert f"mapping {n} times" in result.stdout
    assert f"you said {19 * n}; the run: {19 * n}  right" in result.stdout
