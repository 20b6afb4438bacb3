"""No run outlives its duration whatever its schedule says, and a program in the file
does not stop a schedule: real runs, exact outcomes (which entries were performed, which
worker the schedule was waiting for, which workers were still alive at the end)."""

from __future__ import annotations

import sys

from .conftest import run_cli, run_scenario

PROGRAM_BESIDE_A_SCHEDULE = f"""\
duration: 1
workers:
  prog:
    exec: [{sys.executable}, -c, "import time; time.sleep(30)"]
  a:
    steps:
      - sleep: 0
      - sleep: 0
schedule: a a
"""


def test_a_program_in_the_file_does_not_stop_the_schedule(scenario_file,
                                                         nothing_left_behind) -> None:
    """A program has no step boundary: the schedule used to wait for it to settle, for
    ever (the run clock stands still meanwhile), so the run never ended."""
    summary = run_scenario(scenario_file(PROGRAM_BESIDE_A_SCHEDULE), "--allow-exec",
                           timeout=60)
    assert summary["schedule"] == ["a", "a"]
    assert summary["schedule_error"] is None
    assert summary["workers"]["a"]["exit"] == 0
    assert summary["workers"]["prog"]["exit"] is None  # the duration ended the run


def test_a_schedule_waiting_on_a_long_sleep_ends_with_the_duration(
        scenario_file, nothing_left_behind) -> None:
    """The schedule's time counts against the duration: a granted `sleep: 8` in a run of
    0.5 s ends the run with a schedule error naming the sleeper, which is still asleep."""
    path = scenario_file("duration: 0.5\nworkers:\n  a:\n    steps:\n      - sleep: 8\n"
                         "      - exit: 3\nschedule: a a\n")
    summary = run_scenario(path, timeout=60)
    assert summary["schedule"] == ["a"]
    assert summary["schedule_error"] == {
        "index": 0, "worker": "a",
        "reason": "the run's 0.5 s were spent with the schedule under way"}
    assert summary["workers"]["a"]["exit"] is None


def test_a_paced_schedule_longer_than_the_run_is_cut_by_it(scenario_file,
                                                           nothing_left_behind) -> None:
    """200 entries paced at 32 a second take more than 6 s; the run lasts 0.5 s of run
    time at speed 0.5 (1 s): the schedule is cut short, and says so."""
    path = scenario_file("duration: 0.5\nspeed: 0.5\nworkers:\n  a:\n    loop: true\n"
                         "    steps: [{sleep: 0}]\nschedule: " + " ".join(["a"] * 200) + "\n")
    summary = run_scenario(path, timeout=60)
    assert 0 < len(summary["schedule"]) < 200
    error = summary["schedule_error"]
    assert error["worker"] == "a" and error["reason"].endswith("with the schedule under way")
    assert error["index"] in (len(summary["schedule"]) - 1, len(summary["schedule"]))


def test_a_schedule_naming_a_program_is_refused_before_anything_starts(
        scenario_file, nothing_left_behind) -> None:
    path = scenario_file(PROGRAM_BESIDE_A_SCHEDULE)
    result = run_cli("run", str(path), "--headless", "--allow-exec", "--schedule", "a prog")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "--schedule[1]: 'prog' runs a program (exec:): it has no step boundary to hold it "
        "at, so a schedule cannot give it turns (name workers with steps)"]
