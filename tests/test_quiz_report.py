"""`ipcviz quiz --report FILE`: a JSON report a student can hand in, with the run's own
values; written as an output file (never through a link, never over another's file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import run_cli


def test_the_report_holds_each_answer_beside_the_run_value(tmp_path: Path,
                                                           nothing_left_behind) -> None:
    out = tmp_path / "report.json"
    result = run_cli("quiz", "race_by_hand", "--headless", "--answers", "1,4",
                     "--report", str(out))
    assert result.returncode == 1, result.stderr  # one of the two is wrong
    report = json.loads(out.read_text())
    assert report["lesson"] == "race_by_hand"
    assert report["title"] == "Race by hand"
    assert (report["right"], report["questions_asked"]) == (1, 2)
    first, second = report["questions"]
    assert (first["answer"], first["run_value"], first["right"]) == (1, 1, True)
    assert (second["answer"], second["run_value"], second["right"]) == (4, 3, False)
    assert first["ask"].startswith("The counter starts at 0")
    assert oct(out.stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_report_never_goes_through_a_link_and_nothing_runs(tmp_path: Path) -> None:
    victim = tmp_path / "bashrc"
    victim.write_text("mine\n")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    result = run_cli("quiz", "race_by_hand", "--headless", "--answers", "1,3",
                     "--report", str(link))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"--report: {link}: is a symbolic link; not written "
                                      "(an output never goes through a link)")
    assert "running" not in result.stderr  # refused before the run
    assert victim.read_text() == "mine\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_report_never_replaces_another_users_file(tmp_path: Path) -> None:
    theirs = tmp_path / "report.json"
    theirs.write_text("theirs\n")
    os.chown(theirs, 65534, 65534)
    result = run_cli("quiz", "race_by_hand", "--headless", "--answers", "1,3",
                     "--report", str(theirs))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"--report: {theirs}: belongs to another user "
                                      "(uid 65534); not replaced")
    assert theirs.read_text() == "theirs\n"


def test_a_duration_that_is_no_time_is_refused_before_anything_runs() -> None:
    """-1 ran the lesson for no time at all and graded what never happened."""
    for given in ("-1", "0", "nan"):
        result = run_cli("quiz", "race_by_hand", "--headless", "--answers", "1,3",
                         "--duration", given)
        assert result.returncode == 2
        assert result.stderr == (f"--duration: {float(given)} is not a number of seconds "
                                 "in (0, 86400]\n")
        assert result.stdout == ""
