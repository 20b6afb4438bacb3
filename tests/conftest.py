"""Shared fixtures: an isolated run root, CLI helpers, and the nothing-left-behind check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(autouse=True, scope="session")
def _isolated_run_root(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs made by the tests keep their private directories under a temporary root (0700,
    as the run-root check demands), and every run they start appends its run id to a log
    ($IPCVIZ_RUN_LOG), so the leftover check can tell the tests' own objects from those
    of other ipcviz runs alive on the machine (another user's, another test session's)."""
    base = tmp_path_factory.mktemp("ipcviz")
    root = base / "runs"
    root.mkdir(mode=0o700)
    os.environ["IPCVIZ_RUN_ROOT"] = str(root)
    os.environ["IPCVIZ_RUN_LOG"] = str(base / "run-ids")


def our_run_ids() -> set[str]:
    """Run ids of every run started by this test session (so far)."""
    try:
        return set(Path(os.environ["IPCVIZ_RUN_LOG"]).read_text().split())
    except FileNotFoundError:
        return set()


def ipcviz_shm_entries() -> set[str]:
    """/dev/shm entries of runs this test session started (`ipcviz.<run id>.<channel>`,
    `sem.ipcviz.<run id>.<channel>`); other runs on the machine are not ours to check."""
    ids = our_run_ids()
    found = set()
    for name in os.listdir("/dev/shm"):
        parts = name.removeprefix("sem.").split(".")
        if len(parts) >= 3 and parts[0] == "ipcviz" and parts[1] in ids:
            found.add(name)
    return found


def leftovers() -> list[str]:
    """Processes, /dev/shm entries and run directories of ours that still exist."""
    found = []
    me = psutil.Process()
    for child in me.children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(f"process {child.pid} {' '.join(child.cmdline()[:4])}")
        except psutil.NoSuchProcess:
            pass
    found += [f"/dev/shm/{n}" for n in ipcviz_shm_entries()]
    root = Path(os.environ["IPCVIZ_RUN_ROOT"])
    if root.is_dir():
        found += [f"run dir {p}" for p in root.iterdir()]
    return found


@pytest.fixture
def nothing_left_behind():
    """Asserts after the test that no process, shm entry or run dir of ours remains."""
    before = set(leftovers())
    yield
    import time

    deadline = time.monotonic() + 5
    remaining = [x for x in leftovers() if x not in before]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [x for x in leftovers() if x not in before]
    assert remaining == [], f"left behind: {remaining}"


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m ipcviz ARGS` for real and capture its output."""
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def run_scenario(path: Path | str, *extra: str, timeout: float = 60) -> dict:
    """Run a scenario headless with --json and return the parsed summary."""
    result = run_cli("run", str(path), "--headless", "--json", *extra, timeout=timeout)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def scenario_file(tmp_path: Path):
    """Write scenario text to a file and return its path."""
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
