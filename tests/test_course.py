"""`ipcviz course`: the bundled lessons in the order of a first IPC course, opening on
the next lesson not done, Enter and `b` between lessons, progress kept per user across
runs (`--list`, `--reset`), a progress file that is not ours reported and replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ipcviz import course_progress as store
from ipcviz.course import CHAPTERS, LESSONS
from ipcviz.scenario.paths import COURSE_ORDER, bundled_scenarios

from .conftest import ROOT


def course(state: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`ipcviz course ARGS` for real, with its progress under `state`."""
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run([sys.executable, "-m", "ipcviz", "course", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def listed(state: Path) -> dict[str, str]:
    """`course --list`: each lesson's line, by name."""
    result = course(state, "--list")
    assert result.returncode == 0, result.stderr
    lines = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in LESSONS:
            lines[parts[1]] = line
    return lines


def test_the_course_is_every_bundled_lesson_in_the_pickers_order() -> None:
    assert [title for title, _ in CHAPTERS] == [
        "Signals", "Pipes and FIFOs", "Message queues and capacity", "Sockets and RPC",
        "Shared memory, races and locks", "Files and mmap", "Deadlock",
        "Putting it together"]
    assert LESSONS == COURSE_ORDER
    assert [p.stem for p in bundled_scenarios()] == list(LESSONS)
    assert len(LESSONS) == len(set(LESSONS))


def test_list_in_order_with_a_mark_each(tmp_path: Path) -> None:
    result = course(tmp_path, "--list")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ipcviz course: {len(LESSONS)} lessons in {len(CHAPTERS)} chapters; 0 done")
    assert lines[3] == "1. Signals"
    assert lines[4].split() == ["▶", "signals_handlers", "Signal", "handlers", "next"]
    order = [line.split()[1] for line in lines if line.startswith("   ")]
    assert order == list(LESSONS)
    assert not (tmp_path / "ipcviz").exists()  # a look writes nothing


def test_progress_is_kept_across_runs_and_reset_forgets(tmp_path: Path,
                                                        nothing_left_behind) -> None:
    first = course(tmp_path, "--headless", "--duration", "5", stdin="20\n\n")
    assert first.returncode == 0, first.stderr
    assert f"lesson 1 of {len(LESSONS)}: signals_handlers" in first.stdout
    assert "you said 20; the run: 20  right" in first.stdout
    assert f"lesson 2 of {len(LESSONS)}: signals_coalescing" in first.stdout  # Enter: the next one
    assert "stopped (no more input)" in first.stdout
    path = tmp_path / "ipcviz" / "course.json"
    assert json.loads(path.read_text())["lessons"] == {
        "signals_handlers": {"done": True, "right": 1, "asked": 1}}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    marks = listed(tmp_path)
    assert marks["signals_handlers"].split()[0] == "✓"
    assert marks["signals_handlers"].endswith("1/1 right")
    assert marks["signals_coalescing"].split()[0] == "▶"

    second = course(tmp_path, "--headless", "--duration", "5", stdin="5\nb\n")
    assert second.returncode == 0, second.stderr
    assert f"lesson 2 of {len(LESSONS)}: signals_coalescing" in second.stdout  # the next not done
    assert "you said 5; the run: 1  WRONG" in second.stdout
    assert f"lesson 1 of {len(LESSONS)}: signals_handlers" in second.stdout  # b: back
    marks = listed(tmp_path)
    assert marks["signals_coalescing"].split()[0] == "✗"
    assert marks["signals_coalescing"].endswith("0/1 right")
    assert marks["sigchld_zombies"].split()[0] == "▶"

    forget = course(tmp_path, "--reset")
    assert forget.returncode == 0 and "course progress forgotten" in forget.stdout
    assert not path.exists()
    assert listed(tmp_path)["signals_handlers"].split()[0] == "▶"


def test_a_corrupt_progress_file_is_said_in_one_line_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ipcviz" / "course.json"
    path.parent.mkdir(mode=0o700)
    path.write_text('{"version": 1, "lessons": {"x": {"right": 5, "asked": 1}}}')
    result = course(tmp_path, "--list")
    assert result.returncode == 0
    assert result.stderr == (f"course: {path}: is not a progress file of ipcviz (corrupt?); "
                             "starting afresh (it will be replaced)\n")
    progress = store.load(path)
    progress.record("deadlock", 1, 1)
    store.save(progress, path)
    assert store.load(path).lessons == {"deadlock": {"done": True, "right": 1, "asked": 1}}


def test_a_planted_link_is_never_followed_and_is_replaced(tmp_path: Path) -> None:
    victim = tmp_path / "bashrc"
    victim.write_text("mine\n")
    path = tmp_path / "ipcviz" / "course.json"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(victim)
    progress = store.load(path)
    assert progress.problem == (f"{path}: is a symbolic link; starting afresh (it will be "
                                "replaced)")
    progress.record("deadlock", 0, 1)
    store.save(progress, path)
    assert victim.read_text() == "mine\n"
    assert not path.is_symlink() and json.loads(path.read_text())["lessons"]["deadlock"]
    assert sorted(os.listdir(path.parent)) == ["course.json"]  # no temporary left


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_another_users_progress_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "ipcviz" / "course.json"
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps({"version": 1, "lessons": {
        "deadlock": {"done": True, "right": 1, "asked": 1}}}))
    os.chown(path, 65534, 65534)
    progress = store.load(path)
    assert progress.lessons == {}
    assert progress.problem == (f"{path}: belongs to another user (uid 65534); starting "
                                "afresh (it will be replaced)")
    store.save(progress, path)
    assert path.stat().st_uid == os.getuid()


def test_a_state_directory_that_is_a_link_keeps_nothing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "ipcviz").symlink_to(elsewhere)
    with pytest.raises(store.ProgressError) as info:
        store.save(store.Progress(), tmp_path / "ipcviz" / "course.json")
    assert str(info.value) == (f"{tmp_path / 'ipcviz'}: is not a directory (a link?); "
                               "course progress is not kept")
    assert list(elsewhere.iterdir()) == []


def test_reset_never_removes_through_a_linked_state_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "course.json").write_text("someone else's\n")
    (tmp_path / "ipcviz").symlink_to(elsewhere)
    result = course(tmp_path, "--reset")
    assert result.returncode == 2
    assert result.stderr == (f"{tmp_path / 'ipcviz'}: is not your own directory (a link?); "
                             "nothing removed\n")
    assert (elsewhere / "course.json").read_text() == "someone else's\n"


def test_bad_input_is_one_line_and_status_2(tmp_path: Path) -> None:
    unknown = course(tmp_path, "--lesson", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("--lesson: unknown lesson 'nope' (lessons: "
                                     "signals_handlers, ")
    assert len(unknown.stderr.splitlines()) == 1
    both = course(tmp_path, "--list", "--reset")
    assert both.returncode == 2
    assert both.stderr == "course: give one of --list, --reset, --lesson\n"
    no_time = course(tmp_path, "--headless", "--duration", "-1")
    assert no_time.returncode == 2
    assert no_time.stderr == "--duration: -1.0 is not a number of seconds in (0, 86400]\n"
