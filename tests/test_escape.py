"""Descendants cannot escape a run: whatever a program starts, in a session of its own
(`setsid`) or after a double fork, ends with the run, under --trace too and for an
`exec:` worker of a scenario; and `ipcviz clean` ends what a SIGKILLed run left. Each
test runs twice: with the run's own cgroup (where this machine allows one) and with the
subreaper's tracking alone (IPCVIZ_NO_CGROUP). Real processes; every escaped process is
found by its unique command line and killed by pid if a test fails."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from ipcviz.host import cgroup

from .conftest import ROOT, ipcviz_cgroups, registered_pids, run_cli
from .terminal import Terminal
from .waiting import wait_until


@functools.lru_cache(maxsize=None)
def _cgroup_parent() -> str | None:
    """Where ipcviz makes a run's cgroup on this machine (None: nowhere), found as ipcviz
    finds it: a cgroup made there and joined by a probe process, then removed."""
    with tempfile.TemporaryDirectory() as tmp:
        path, _ = cgroup.make_run_cgroup(f"{os.getpid()}-probe", Path(tmp))
    if path is None:
        return None
    cgroup.remove(path)
    return os.path.dirname(path)


def _cgroup_possible() -> bool:
    return _cgroup_parent() is not None


MECHANISMS = [
    pytest.param("cgroup", marks=pytest.mark.skipif(
        not _cgroup_possible(), reason="no cgroup v2 of ours to make a run's cgroup in")),
    "subreaper",
]


@pytest.fixture(params=MECHANISMS)
def mechanism(request, monkeypatch) -> str:
    """The run's containment: its cgroup, or tracking alone (the CLI runs inherit this)."""
    if request.param == "subreaper":
        monkeypatch.setenv(cgroup.DISABLE_ENV, "1")
    else:
        monkeypatch.delenv(cgroup.DISABLE_ENV, raising=False)
    return request.param


_serial = iter(range(1, 1000))


def _duration() -> str:
    """A sleep duration no other process on the machine uses: this test's marker."""
    return f"4321.{os.getpid()}{next(_serial):03d}"


def _sleeping(duration: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if (proc.info["cmdline"] or [])[:2] == ["sleep", duration]:
            found.append(proc)
    return found


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def _kill_all(duration: str) -> None:
    """Whatever the test's outcome: no escaped sleep of it outlives it (by pid)."""
    for proc in _sleeping(duration):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def _watch(*argv: str, trace: bool = False) -> dict:
    extra = ("--trace",) if trace else ()
    result = run_cli("watch", "--headless", "--json", "--duration", "5", *extra, "--", *argv)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _assert_ended(summary: dict, duration: str, mechanism: str) -> None:
    assert _alive(_sleeping(duration)) == []
    assert summary["leaks"]["processes"] == 0
    assert summary["containment"] == mechanism
    assert ipcviz_cgroups() == []


def test_a_setsid_child_ends_with_the_watch(mechanism, nothing_left_behind) -> None:
    duration = _duration()
    try:
        summary = _watch("sh", "-c", f"setsid sleep {duration} & sleep 0.3")
        _assert_ended(summary, duration, mechanism)
    finally:
        _kill_all(duration)


#: `sleep` in a process group of its own (as a shell with job control puts a job)
OWN_GROUP = (f"{sys.executable} -c 'import os, sys; os.setpgid(0, 0); "
             "os.execvp(\\\"sleep\\\", [\\\"sleep\\\", sys.argv[1]])'")


def test_a_double_forked_child_ends_with_the_watch(mechanism, nothing_left_behind) -> None:
    duration = _duration()
    try:
        # the grandchild in a process group of its own, its parent gone at once
        summary = _watch("sh", "-c", f'(sh -c "{OWN_GROUP} {duration} &" &); sleep 0.3')
        _assert_ended(summary, duration, mechanism)
    finally:
        _kill_all(duration)


@pytest.mark.skipif(shutil.which("strace") is None,
                    reason="strace is not installed (apt install strace)")
def test_a_setsid_child_ends_with_a_traced_watch(mechanism, nothing_left_behind) -> None:
    duration = _duration()
    try:
        summary = _watch("sh", "-c", f"setsid sleep {duration} & sleep 0.3", trace=True)
        _assert_ended(summary, duration, mechanism)
    finally:
        _kill_all(duration)


def test_a_double_forking_exec_worker_leaves_nothing(mechanism, scenario_file,
                                                     nothing_left_behind) -> None:
    """A worker of a scenario that daemonizes (double fork, new session) while a scripted
    worker runs beside it: the run ends by its clock and the daemon with it."""
    duration = _duration()
    path = scenario_file(f"""
duration: 1.5
workers:
  daemon:
    exec: [sh, -c, '(setsid sh -c "sleep {duration} &" &)']
  ticker:
    steps:
      - repeat: {{times: 100, steps: [{{sleep: 0.01}}]}}
""")
    try:
        result = run_cli("run", str(path), "--headless", "--json", "--allow-exec")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["workers"]["daemon"]["exit"] == 0
        _assert_ended(summary, duration, mechanism)
    finally:
        _kill_all(duration)


#: two sleeps in sessions of their own whose parents (subshells) end at once: orphans,
#: neither in the program's tree nor in its process group, before the runtime first looks;
#: the program has closed its output first (a daemon does: nothing more to read from it)
KEEPS_RUNNING = """
duration: 60
workers:
  p:
    exec: [sh, -c, 'exec >/dev/null 2>&1; (setsid sleep {duration} &);
                    (setsid sh -c "sleep {duration} &" &); sleep 50']
"""
#: the same two started by a program that ends at once, beside a worker that keeps the
#: run going: nothing of the program is left to look under
DAEMONIZES = """
duration: 60
workers:
  p:
    exec: [sh, -c, '(setsid sleep {duration} &); (setsid sh -c "sleep {duration} &" &)']
  ticker:
    steps:
      - sleep: 50
"""


def _clean_ends_them(escaped: list[psutil.Process], mechanism: str) -> None:
    assert len(_alive(escaped)) == 2  # the run is gone; they are nobody's now
    result = run_cli("clean")
    assert result.returncode == 0, result.stderr
    if mechanism == "cgroup":
        assert "removed cgroup " in result.stdout, result.stdout
    wait_until(lambda: _alive(escaped) == [], 5, message="the escaped processes to end")
    assert ipcviz_cgroups() == []


@pytest.mark.parametrize("text", [KEEPS_RUNNING, DAEMONIZES], ids=["running", "ended"])
def test_clean_ends_what_a_sigkilled_headless_run_left(mechanism, text, scenario_file,
                                                       nothing_left_behind) -> None:
    duration = _duration()
    path = scenario_file(text.format(duration=duration))
    run = subprocess.Popen([sys.executable, "-m", "ipcviz", "run", str(path), "--headless",
                            "--allow-exec"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(_sleeping(duration)) == 2, message="the two escaped sleeps")
        escaped = _sleeping(duration)
        wait_until(lambda: {p.pid for p in escaped} <= registered_pids(),
                   message="the escaped sleeps registered")
        run.send_signal(signal.SIGKILL)
        assert run.wait(10) == -signal.SIGKILL  # (not ended by itself meanwhile)
        _clean_ends_them(escaped, mechanism)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        _kill_all(duration)


def test_clean_ends_what_a_sigkilled_app_and_runtime_left(mechanism, scenario_file,
                                                          nothing_left_behind) -> None:
    """The live app on a terminal and its runtime process, both SIGKILLed."""
    duration = _duration()
    path = scenario_file(DAEMONIZES.format(duration=duration))
    term = Terminal("launch", str(path), "--allow-exec")
    runtimes: list[psutil.Process] = []
    try:
        wait_until(lambda: len(_sleeping(duration)) == 2, 30,
                   message="the two escaped sleeps")
        escaped = _sleeping(duration)
        runtimes = [c for c in psutil.Process(term.proc.pid).children()
                    if "ipcviz.runtime" in " ".join(c.cmdline())]
        assert len(runtimes) == 1
        wait_until(lambda: {p.pid for p in escaped} <= registered_pids(),
                   message="the escaped sleeps registered")
        # both stopped first: neither may see the other's end and clean up after it
        runtimes[0].suspend()
        term.proc.send_signal(signal.SIGSTOP)
        term.proc.send_signal(signal.SIGKILL)
        runtimes[0].kill()
        term.proc.wait(10)
        runtimes[0].wait(10)
        _clean_ends_them(escaped, mechanism)
    finally:
        for proc in [*runtimes]:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        term.close()
        _kill_all(duration)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_another_users_run_ends_what_its_program_started(nothing_left_behind) -> None:
    """A user who is not root, with no cgroup of their own to write (as here) or with one
    (a delegated subtree): the run ends a `setsid` child of its program all the same."""
    from ipcviz.runtime.headless import run_headless
    from ipcviz.scenario.load import load_text

    from .users import NOBODY, as_user

    duration = _duration()
    root = Path(tempfile.mkdtemp(prefix="ipcviz-nobody-", dir="/tmp"))  # a root of theirs
    os.chown(root, NOBODY, NOBODY)
    text = (f"duration: 5\nworkers:\n  p:\n    cwd: /\n    exec: [sh, -c, 'setsid sleep "
            f"{duration} & sleep 0.3']\n").encode()

    def run() -> tuple[str | None, dict]:
        from ipcviz.host.process import become_subreaper

        os.environ["IPCVIZ_RUN_ROOT"] = str(root)
        os.environ.pop("IPCVIZ_RUN_LOG", None)  # (the test session's log is root's)
        os.environ.pop(cgroup.DISABLE_ENV, None)
        try:
            result = run_headless(load_text(text, "nobody.yaml"), allow_exec=True)
        finally:
            become_subreaper(False)
        return result.summary.get("containment"), result.summary["leaks"]

    try:
        how, leaks = as_user(run)
        assert _alive(_sleeping(duration)) == []
        assert leaks == {"processes": 0, "ipc_objects": 0}
        assert how == ("cgroup" if _cgroup_parent_of(NOBODY) else "subreaper")
    finally:
        _kill_all(duration)
        shutil.rmtree(root, ignore_errors=True)


def _cgroup_parent_of(uid: int) -> bool:
    """Whether `uid` may make a cgroup beside the one this process is in (delegated)."""
    directory = cgroup.own_cgroup_dir()
    mounts = {p for _, p in cgroup.cgroup2_mounts()}
    while directory is not None:
        try:
            if os.stat(directory).st_uid == uid:
                return True
        except OSError:
            return False
        parent = os.path.dirname(directory)
        directory = None if directory in mounts or parent == directory else parent
    return False
