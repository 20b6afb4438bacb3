"""Attacks another local user (or a damaged file) makes on what ipcviz reads and writes,
each performed for real: the promise of docs/security.md holds, or the command refuses
in one line with exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ipcviz import course_progress as store

from .conftest import ROOT


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
