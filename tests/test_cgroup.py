"""The run's cgroup itself (host/cgroup.py): `clean` ends only the cgroup named after a
dead run, and a cgroup is ended whole while its processes fork, with `cgroup.kill` and
as on kernels without it. Real cgroups and processes; skipped where no cgroup v2 of ours
can be made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ipcviz.host import cgroup

from .conftest import ROOT
from .test_escape import _alive, _cgroup_parent, _cgroup_possible
from .waiting import wait_until


def _dead_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@pytest.mark.skipif(not _cgroup_possible(), reason="no cgroup v2 of ours to make one in")
def test_clean_kills_only_the_cgroup_named_after_the_run(tmp_path: Path,
                                                         nothing_left_behind) -> None:
    """A dead run's directory naming a cgroup that is not that run's (the cgroup everyone
    here is in, another run's): refused in a line each, nothing in them signalled, and the
    run directory kept; the run's own cgroup is ended and removed."""
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    parent = _cgroup_parent()
    assert parent is not None
    # run ids of this test process only: a dead run's sweep removes /dev/shm entries by
    # run id, and other test processes plant runs of a dead pid too
    other = os.path.join(parent, cgroup.cgroup_name(f"{_dead_pid()}-{(os.getpid() + 1) & 0xffffff:06x}"))
    own_id = f"{_dead_pid()}-{os.getpid() & 0xffffff:06x}"
    own = os.path.join(parent, cgroup.cgroup_name(own_id))
    runs = {f"{_dead_pid()}-aaaaaa": cgroup.own_cgroup_dir(), f"{_dead_pid()}-bbbbbb": other,
            own_id: own}
    sleepers = []
    try:
        for group in (other, own):
            os.mkdir(group)
            sleepers.append(subprocess.Popen(
                [sys.executable, "-c", "import os, sys, time; open(sys.argv[1] + "
                 "'/cgroup.procs', 'w').write('0'); time.sleep(60)", group]))
        for run_id, path in runs.items():
            (root / run_id).mkdir(mode=0o700)
            (root / run_id / cgroup.CGROUP_FILE).write_text(f"{path}\n")
            os.chmod(root / run_id / cgroup.CGROUP_FILE, 0o600)
        wait_until(lambda: len(cgroup.members(other)) == 1 and len(cgroup.members(own)) == 1,
                   message="the sleepers in their cgroups")
        result = subprocess.run([sys.executable, "-m", "ipcviz", "clean"], capture_output=True,
                                text=True, timeout=60, cwd=ROOT,
                                env=dict(os.environ, IPCVIZ_RUN_ROOT=str(root)))
        assert result.returncode == 0, result.stderr
        refused = sorted(result.stderr.strip().splitlines())
        assert len(refused) == 2 and all("not named after the run" in line for line in refused)
        assert sleepers[0].poll() is None  # another run's: never signalled
        assert sleepers[1].wait(10) == -signal.SIGKILL
        assert f"removed cgroup {own} (1 process in it killed)" in result.stdout
        assert not os.path.exists(own) and os.path.isdir(other)
        assert sorted(p.name for p in root.iterdir()) == sorted(set(runs) - {own_id})
    finally:
        for proc in sleepers:
            proc.kill()
            proc.wait()
        for group in (other, own):
            if os.path.isdir(group):
                cgroup.remove(group)


FORKS_ON = """\
import os, sys, time
group = sys.argv[1]
open(group + "/cgroup.procs", "w").write("0")
os.mkdir(group + "/inner")  # a cgroup of the program's own, under the run's
if os.fork() == 0:
    open(group + "/inner/cgroup.procs", "w").write("0")
    os.setsid()
while True:  # every process forks another now and then: none may slip through
    if os.fork() == 0:
        time.sleep(0.05)
    time.sleep(0.02)
"""


@pytest.mark.skipif(not _cgroup_possible(), reason="no cgroup v2 of ours to make one in")
@pytest.mark.parametrize("kill_file", [True, False], ids=["cgroup.kill", "freeze"])
def test_a_cgroup_is_ended_whole_while_its_processes_fork(kill_file: bool,
                                                          nothing_left_behind) -> None:
    """Processes forking in the cgroup and in one of their own under it: all killed, with
    `cgroup.kill` and as on kernels without it (frozen, each killed, thawed), and both
    cgroups removed."""
    parent = _cgroup_parent()
    assert parent is not None
    path = os.path.join(parent, f"ipcviz-test-{os.getpid()}-{int(kill_file)}")
    os.mkdir(path)
    forker = subprocess.Popen([sys.executable, "-c", FORKS_ON, path])
    try:
        wait_until(lambda: len(cgroup.members(path)) >= 8, message="the processes to fork")
        inside = [psutil.Process(pid) for pid in cgroup.members(path)]
        cgroup.kill(path, kill_file=kill_file)
        assert forker.wait(10) == -signal.SIGKILL
        assert cgroup.remove(path)
        assert _alive(inside) == []
    finally:
        if os.path.isdir(path):
            cgroup.kill(path)
            cgroup.remove(path)
        if forker.poll() is None:
            forker.kill()
            forker.wait()
