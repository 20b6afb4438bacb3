"""Attacks another local user (or a damaged file) makes on what ipcviz reads and writes,
each performed for real: the promise of docs/security.md holds, or the command refuses
in one line with exit status 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipcviz import course_progress as store
from ipcviz.host import outputs
from ipcviz.host.outputs import output_directory, output_problem, write_output

from .conftest import ROOT
from .users import as_nobody


def test_a_progress_file_nested_past_the_stack_is_corrupt_not_a_crash(tmp_path: Path
                                                                       ) -> None:
    """A progress file of brackets nested deeper than Python's stack (well under the
    size limit) is one line, like any corrupt progress file, and is replaced."""
    path = tmp_path / "ipcviz" / "course.json"
    path.parent.mkdir(mode=0o700)
    path.write_text("[" * 200_000)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "ipcviz", "course", "--list"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"course: {path}: is not a progress file of ipcviz (corrupt?); "
                             "starting afresh (it will be replaced)\n")
    assert "Traceback" not in result.stdout
    progress = store.load(path)
    progress.record("deadlock", 1, 1)
    store.save(progress, path)
    assert store.load(path).lessons == {"deadlock": {"done": True, "right": 1, "asked": 1}}


@pytest.fixture
def shared_directory() -> Iterator[Path]:
    """A directory every local user may write, not sticky (a course's shared folder), in
    /tmp so that another uid can reach it wherever the checkout is."""
    path = Path(tempfile.mkdtemp(prefix="ipcviz-shared-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_an_output_directory_swapped_for_a_link_during_the_run_is_not_followed(
        shared_directory: Path, tmp_path: Path) -> None:
    """`screenshot --all -o DIR` checks DIR, then runs every lesson: meanwhile another user
    who may write DIR's parent renames DIR away and puts a link to a directory of the
    victim's in its place. The pictures still go into the directory that was checked."""
    victims = tmp_path / "home"
    victims.mkdir()
    shots = shared_directory / "shots"
    output_directory(shots)
    try:
        def swap() -> None:
            os.rename(shots, shared_directory / "moved")
            os.symlink(victims, shots)

        as_nobody(swap)
        assert shots.is_symlink()
        assert output_problem(shots / "lesson.svg") is None
        write_output(shots / "lesson.svg", b"<svg/>")
        assert os.listdir(victims) == []
        assert (shared_directory / "moved" / "lesson.svg").read_bytes() == b"<svg/>"
    finally:
        fd = outputs._PINNED.pop(str(shots), None)
        if fd is not None:
            os.close(fd)
