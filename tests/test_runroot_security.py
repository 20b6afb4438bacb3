"""The run root and the sweep trust nothing they cannot prove ours (issue 12, critical).

Each test builds the hostile situation for real: directories, registries and /dev/shm
entries made by another uid (a forked child that drops to nobody), a symlinked root,
a registry naming a file outside its run, a `processes` file naming a live process of
ours that the run never started, a channel named like the run's own files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipcviz.host.process import ProcessIdentity, read_stat

from .conftest import ROOT, run_cli
from .live import LiveRun
from .users import NOBODY
from .users import as_nobody as as_user
from .waiting import wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making files owned by another uid "
                                "(setuid in a forked child) needs root")


def as_nobody(action: Callable[[], None]) -> None:
    """Run `action` as uid/gid 65534 with umask 0 (planted files as loose as they come)."""
    as_user(action, umask=0)


def cli(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m ipcviz ARGS` with the run root set to `root`."""
    env = dict(os.environ, IPCVIZ_RUN_ROOT=str(root))
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL)


def dead_pid() -> int:
    """A pid no process has now."""
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def unique_dead_run_id() -> str:
    """A run id of a dead pid that no other test process uses: a sweep removes the /dev/shm
    entries of a dead run by its id, so two test processes sharing one would remove each
    other's planted objects."""
    return f"{dead_pid()}-{os.getpid() & 0xffffff:06x}"


@pytest.fixture
def base() -> Iterator[Path]:
    """A fresh directory in /tmp that every user may create entries in (like /tmp)."""
    path = Path(tempfile.mkdtemp(prefix="ipcviz-sec-", dir="/tmp"))
    os.chmod(path, 0o1777)
    victim = path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def bystander() -> Iterator[ProcessIdentity]:
    """A live process of ours that no ipcviz run started."""
    proc = subprocess.Popen(["sleep", "60"])
    ident = ProcessIdentity.of(proc.pid)
    assert ident is not None
    try:
        yield ident
    finally:
        proc.kill()
        proc.wait()


def running(ident: ProcessIdentity) -> bool:
    """The very process is alive and not killed (a zombie of ours counts as killed)."""
    stat_now = read_stat(ident.pid)
    return ident.exists() and stat_now is not None and stat_now.state not in ("Z", "X")


def plant_run(directory: Path, registry: dict, processes: str = "", mode: int = 0o700) -> None:
    directory.mkdir(mode=mode)
    os.chmod(directory, mode)
    (directory / "registry.json").write_text(json.dumps(registry))
    if processes:
        (directory / "processes").write_text(processes)


def one_line_exit_2(result: subprocess.CompletedProcess[str], path: Path, what: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"run root {path}: ") and what in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


SIMPLE = """\
    duration: 0.3
    workers:
      a: {steps: [{sleep: 0.05}], loop: 2}
    """


# ------------------------------------------------------------------ the run root itself


@needs_root
def test_a_run_root_of_another_user_is_refused_untouched(base: Path, tmp_path: Path,
                                                         bystander: ProcessIdentity,
                                                         nothing_left_behind) -> None:
    root = base / "ipcviz-0"
    planted = root / f"{dead_pid()}-abcdef"
    victim_file = base / "victim" / "precious.txt"

    def make() -> None:
        root.mkdir(mode=0o777)
        plant_run(planted, {"run_id": planted.name, "owner": [dead_pid(), 1],
                            "objects": [{"kind": "file", "name": str(victim_file)}]},
                  f"{bystander.pid} {bystander.start}\n", mode=0o777)

    as_nobody(make)
    path = scenario(tmp_path, SIMPLE)
    for args in (("clean",), ("run", str(path), "--headless", "--json"), ("launch", str(path)),
                 ()):
        one_line_exit_2(cli(root, *args, timeout=30), root, "belongs to uid 65534")
    assert stat.S_IMODE(root.lstat().st_mode) == 0o777 and root.lstat().st_uid == NOBODY
    assert sorted(p.name for p in root.iterdir()) == [planted.name]
    assert victim_file.read_text() == "keep me"
    assert running(bystander)


def test_a_symlinked_run_root_is_refused_and_its_target_survives(base: Path, tmp_path: Path,
                                                                 nothing_left_behind) -> None:
    home = base / "home"
    for sub in (".ssh", "Documents"):
        (home / sub).mkdir(parents=True)
        (home / sub / "file").write_text(sub)
    os.chmod(home, 0o755)
    link = base / "ipcviz-0"
    link.symlink_to(home)
    path = scenario(tmp_path, SIMPLE)
    for args in (("clean",), ("run", str(path), "--headless", "--json")):
        one_line_exit_2(cli(link, *args), link, "symbolic link")
    assert sorted(p.name for p in home.iterdir()) == [".ssh", "Documents"]
    assert (home / ".ssh" / "file").read_text() == ".ssh"
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_a_run_root_that_is_a_file_is_refused(base: Path, nothing_left_behind) -> None:
    root = base / "ipcviz-0"
    root.write_text("not a directory")
    one_line_exit_2(cli(root, "clean"), root, "regular file")
    assert root.read_text() == "not a directory"


def test_a_missing_run_root_is_created_private(base: Path, tmp_path: Path,
                                               nothing_left_behind) -> None:
    root = base / "fresh"
    result = cli(root, "run", str(scenario(tmp_path, SIMPLE)), "--headless", "--json")
    assert result.returncode == 0, result.stderr
    info = root.lstat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert list(root.iterdir()) == []


def test_xdg_runtime_dir_is_preferred_only_when_private_and_ours(base: Path, monkeypatch) -> None:
    from ipcviz.host.runroot import run_root_path

    monkeypatch.delenv("IPCVIZ_RUN_ROOT")
    fallback = Path(f"/tmp/ipcviz-{os.getuid()}")
    private = base / "xdg"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    assert run_root_path() == private / "ipcviz"
    os.chmod(private, 0o755)  # others may enter: not a per-user runtime dir
    assert run_root_path() == fallback
    os.chmod(private, 0o700)
    link = base / "xdg-link"
    link.symlink_to(private)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(link))
    assert run_root_path() == fallback
    if os.geteuid() == 0:
        os.chown(private, NOBODY, NOBODY)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
        assert run_root_path() == fallback
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert run_root_path() == fallback


# ------------------------------------------------------------------ what clean may remove


@needs_root
def test_our_root_left_open_is_made_private_and_foreign_runs_in_it_survive(
        base: Path, bystander: ProcessIdentity, nothing_left_behind) -> None:
    """A root of ours with mode 0777: another user planted a run directory (the attack of
    issue 12). clean sets the root to 0700, kills nothing, removes nothing of theirs."""
    root = base / "ipcviz-0"
    root.mkdir()
    os.chmod(root, 0o777)
    planted = root / f"{dead_pid()}-abcdef"
    victim_file = base / "victim" / "precious.txt"
    as_nobody(lambda: plant_run(
        planted, {"run_id": planted.name, "owner": [dead_pid(), 1],
                  "objects": [{"kind": "file", "name": str(victim_file)}]},
        f"{bystander.pid} {bystander.start}\n", mode=0o777))
    result = cli(root, "clean")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(root.lstat().st_mode) == 0o700
    assert result.stdout.strip() == "nothing to clean"
    assert result.stderr.strip().splitlines() == [
        f"refused: {planted}: belongs to uid {NOBODY}, not to you; left alone"]
    assert planted.is_dir() and victim_file.read_text() == "keep me"
    assert running(bystander)


@needs_root
def test_a_registry_entry_outside_its_run_is_refused(base: Path, bystander: ProcessIdentity,
                                                     nothing_left_behind) -> None:
    """A dead run directory of ours whose registry names another file, another run's shared
    memory, and a foreign /dev/shm entry carrying the run id: only what is provably this
    run's goes; the rest is reported."""
    root = base / "root"
    root.mkdir(mode=0o700)
    run_id = unique_dead_run_id()
    victim_file = base / "victim" / "precious.txt"
    other_shm = Path(f"/dev/shm/ipcviz.{dead_pid()}-123456.keep{os.getpid()}")
    foreign_shm = Path(f"/dev/shm/ipcviz.{run_id}.theirs{os.getpid()}")
    own_shm = Path(f"/dev/shm/ipcviz.{run_id}.mine{os.getpid()}")
    other_shm.write_text("x")
    own_shm.write_text("x")
    try:
        as_nobody(lambda: foreign_shm.write_text("x"))
        plant_run(root / run_id, {  # its owner started after the bystander
            "run_id": run_id, "owner": [dead_pid(), bystander.start + 1],
            "objects": [{"kind": "file", "name": str(victim_file)},
                        {"kind": "file", "name": str(root / run_id / "ch" / ".." / ".." / "x")},
                        {"kind": "shm", "name": "/" + other_shm.name},
                        {"kind": "shm", "name": "/" + own_shm.name}]},
            f"{bystander.pid} {bystander.start}\n")
        os.chmod(root / run_id / "registry.json", 0o600)
        os.chmod(root / run_id / "processes", 0o600)
        result = cli(root, "clean")
        assert result.returncode == 0, result.stderr
        assert victim_file.read_text() == "keep me"
        assert other_shm.exists() and foreign_shm.exists() and not own_shm.exists()
        assert running(bystander), "a process the run did not start was killed"
        refused = result.stderr.strip().splitlines()
        assert all(line.startswith("refused: ") for line in refused), refused
        assert len(refused) == 5, refused
        assert sum("not inside this run's directory" in line for line in refused) == 2
        assert sum("does not carry this run's id" in line for line in refused) == 1
        assert sum(f"process {bystander.pid}: started before the run" in line
                   for line in refused) == 1
        assert sum(str(foreign_shm) in line for line in refused) == 1
        assert f"removed shm /{own_shm.name}" in result.stdout
        assert f"removed run directory {root / run_id}" in result.stdout
    finally:
        for path in (other_shm, foreign_shm, own_shm):
            path.unlink(missing_ok=True)


@needs_root
def test_a_registry_others_can_write_is_refused(base: Path, nothing_left_behind) -> None:
    root = base / "root"
    root.mkdir(mode=0o700)
    run_id = unique_dead_run_id()
    plant_run(root / run_id, {"run_id": run_id, "owner": [dead_pid(), 1],
                              "objects": [{"kind": "file", "name": str(root / run_id / "f")}]})
    (root / run_id / "f").write_text("x")
    os.chown(root / run_id / "registry.json", NOBODY, NOBODY)  # written by another user
    other = f"{dead_pid()}-fedcba"
    plant_run(root / other, {"run_id": other, "owner": [dead_pid(), 1], "objects": []})
    os.chmod(root / other / "registry.json", 0o666)  # ours, but anyone may rewrite it
    result = cli(root, "clean")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing to clean"
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr
    assert (root / run_id / "f").exists() and (root / other).is_dir()


def test_entries_not_named_like_a_run_are_left_alone(base: Path, nothing_left_behind) -> None:
    root = base / "root"
    root.mkdir(mode=0o700)
    dead = dead_pid()
    names = ["Documents", ".ssh", f"{dead}-abcdefg", f"{dead}-ABCDEF", f"{dead}-abcdef.old",
             f"0{dead}-abcdef", "x\x1b[31mred"]
    for name in names:
        (root / name).mkdir(mode=0o700)
        (root / name / "keep").write_text("x")
    (root / f"{dead}-abcdee").symlink_to(base / "victim")  # the right name, but a link
    result = cli(root, "clean")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in root.iterdir()) == sorted(names + [f"{dead}-abcdee"])
    assert all((root / name / "keep").exists() for name in names)
    assert (base / "victim" / "precious.txt").exists()
    refused = result.stderr.strip().splitlines()
    assert len(refused) == len(names) + 1, refused
    assert "\x1b" not in result.stderr and "x\\x1b[31mred" in result.stderr


# ------------------------------------------------------------------ channel names


def test_channels_named_like_the_runs_own_files_do_not_collide(tmp_path: Path,
                                                               nothing_left_behind) -> None:
    """A FIFO named `processes` used to make `run` hang (the runtime opened it to append
    the first worker's pid); a worker named `processes` has the log `processes.log`."""
    path = scenario(tmp_path, """\
        duration: 0.5
        channels:
          processes: {kind: fifo}
          registry: {kind: queue, capacity: 4}
          processes_log: {kind: mmap, size: 64}
        workers:
          processes:
            loop: 3
            steps:
              - write: {to: processes, data: "abc"}
              - send: {to: registry, data: "m"}
              - write: {to: processes_log, data: "x"}
          b:
            loop: 3
            steps:
              - read: {from: processes, bytes: 3}
              - receive: {from: registry}
        expect:
          - {channel: processes, bytes_written: 9, bytes_read: 9, buffered: 0}
        """)
    result = run_cli("run", str(path), "--headless", "--json", "--check", timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["leaks"] == {"processes": 0, "ipc_objects": 0}
    bad = scenario(tmp_path, "channels:\n  registry.json: {kind: fifo}\nworkers:\n  a: {}\n")
    rejected = run_cli("validate", str(bad))
    assert rejected.returncode == 2 and len(rejected.stderr.strip().splitlines()) == 1


def test_an_mmap_named_processes_cannot_make_clean_kill(tmp_path: Path,
                                                        bystander: ProcessIdentity,
                                                        nothing_left_behind) -> None:
    """A worker writes `PID START` of an unrelated process of ours into an mmap channel
    named `processes`; the runtime is SIGKILLed; `clean` must not kill that process."""
    line = f"{bystander.pid} {bystander.start}\n"
    path = scenario(tmp_path, f"""\
        channels:
          processes: {{kind: mmap, size: {len(line)}}}
        workers:
          w:
            loop: true
            steps:
              - write: {{to: processes, data: "{line.strip()}\\n"}}
              - sleep: 0.05
        """)
    with LiveRun(str(path)) as run:
        snap = run.wait_for(lambda s: s.worker("w").pid and s.worker("w").loops > 1)
        worker = ProcessIdentity.of(snap.worker("w").pid)
        os.kill(run.source.proc.pid, signal.SIGKILL)
        # PR_SET_PDEATHSIG: the worker dies with the runtime
        wait_until(lambda: worker is None or not worker.exists(), message="the worker's end")
        # `clean` while the UI side is still open (leaving it sweeps the run itself)
        wait_until(lambda: run.source.proc.poll() is not None, message="the runtime reaped")
        result = run_cli("clean")
    assert result.returncode == 0, result.stderr
    assert "removed run directory" in result.stdout
    assert running(bystander), "clean killed a process named by a channel's bytes"


def test_host_imports_nothing_above_it() -> None:
    """host/ is the bottom layer: importing it loads no other ipcviz package."""
    code = ("import sys\nimport ipcviz.host.registry, ipcviz.host.runroot, ipcviz.host.process\n"
            "print(sorted(m for m in sys.modules if m.startswith('ipcviz.')"
            " and not m.startswith('ipcviz.host')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "[]"


def test_the_leftover_check_counts_only_the_sessions_own_runs(tmp_path: Path,
                                                              monkeypatch) -> None:
    """Another ipcviz run alive on the machine (another user's, another test session's)
    is not a leftover of ours; an object of a run we started is."""
    from .conftest import leftovers

    ours, theirs = f"{dead_pid()}-0a0b0c", f"{dead_pid()}-0d0e0f"
    log = tmp_path / "run-ids"
    log.write_text(f"{ours}\n")
    monkeypatch.setenv("IPCVIZ_RUN_LOG", str(log))
    mine = Path(f"/dev/shm/ipcviz.{ours}.c{os.getpid()}")
    other = Path(f"/dev/shm/sem.ipcviz.{theirs}.c{os.getpid()}")
    try:
        mine.write_text("x")
        other.write_text("x")
        found = leftovers()
        assert f"/dev/shm/{mine.name}" in found
        assert not any(theirs in item for item in found), found
    finally:
        mine.unlink(missing_ok=True)
        other.unlink(missing_ok=True)
