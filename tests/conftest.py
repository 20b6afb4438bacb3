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


def ipcviz_cgroups() -> list[str]:
    """Cgroups of runs this test session started, where ipcviz makes them: in our own
    cgroup or one of its ancestors up to the cgroup2 mount."""
    from ipcviz.host import cgroup

    names = {cgroup.cgroup_name(run_id) for run_id in our_run_ids()}
    directory = cgroup.own_cgroup_dir()
    mounts = {point for _, point in cgroup.cgroup2_mounts()}
    found = []
    while directory is not None:
        try:
            found += [os.path.join(directory, d) for d in os.listdir(directory) if d in names]
        except OSError:
            pass
        parent = os.path.dirname(directory)
        directory = None if directory in mounts or parent == directory else parent
    return found


def _leftovers_by_key() -> dict[str, str]:
    """What leftovers() lists, keyed so that the same object compares equal over time: a
    process by pid and start time (its command line is empty while it is being exec'd,
    and a vfork'd child is returned to its parent in that window)."""
    found = {}
    me = psutil.Process()
    for child in me.children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                key = f"process {child.pid} {child.create_time()}"
                found[key] = f"process {child.pid} {' '.join(child.cmdline()[:4])}"
        except psutil.NoSuchProcess:
            pass
    for name in ipcviz_shm_entries():
        found[f"/dev/shm/{name}"] = f"/dev/shm/{name}"
    for group in ipcviz_cgroups():
        found[f"cgroup {group}"] = f"cgroup {group}"
    root = Path(os.environ["IPCVIZ_RUN_ROOT"])
    if root.is_dir():
        for path in root.iterdir():
            found[f"run dir {path}"] = f"run dir {path}"
    return found


def registered_pids() -> set[int]:
    """Pids in the process registries of this session's runs (`<run dir>/processes`, a
    `pid start` line each): where `ipcviz clean` finds what a killed run's programs
    started."""
    from ipcviz.host.registry import PROCESSES_FILE

    pids = set()
    for directory in Path(os.environ["IPCVIZ_RUN_ROOT"]).iterdir():
        try:
            lines = (directory / PROCESSES_FILE).read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError):
            continue
        pids |= {int(line.split()[0]) for line in lines if line.strip()}
    return pids


def leftovers() -> list[str]:
    """Processes, /dev/shm entries, run directories and run cgroups of ours that still
    exist."""
    return list(_leftovers_by_key().values())


@pytest.fixture
def nothing_left_behind():
    """Asserts after the test that no process, shm entry or run dir of ours remains."""
    before = set(_leftovers_by_key())
    yield
    from .waiting import wait_until

    left: list[str] = []

    def cleared() -> bool:  # (a run's cleanup may still be finishing)
        left[:] = [text for key, text in _leftovers_by_key().items() if key not in before]
        return not left

    wait_until(cleared, 5, message=lambda: f"nothing left behind; left behind: {left}")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m ipcviz ARGS` for real and capture its output."""
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def run_scenario(path: Path | str, *extra: str, timeout: float = 60) -> dict:
    """Run a scenario headless with --json and return the parsed summary."""
    result = run_cli("run", str(path), "--headless", "--json", *extra, timeout=timeout)
    assert result.returncode in (0, 1), result.stderr
    try:
        return json.loads(result.stdout)
    except ValueError:  # say why: twice a CI-style run printed no summary, not reproduced
        raise AssertionError(f"no JSON summary (exit {result.returncode}; stdout "
                             f"{result.stdout[:200]!r}); stderr:\n{result.stderr[-3000:]}"
                             ) from None


@pytest.fixture
def scenario_file(tmp_path: Path):
    """Write scenario text to a file and return its path."""
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
