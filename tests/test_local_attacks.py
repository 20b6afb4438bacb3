"""Attacks another local user (or a damaged file) makes on what ipcviz reads and writes,
each performed for real: the promise of docs/security.md holds, or the command refuses
in one line with exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipcviz import course_progress as store
from ipcviz.host import outputs
from ipcviz.host import sweep as sweep_module
from ipcviz.host.registry import Registry
from ipcviz.observe.cc import CompileError, compile_c
from ipcviz.host.outputs import output_directory, output_problem, write_output

from .conftest import ROOT
from .users import NOBODY, as_nobody, as_user
from .waiting import wait_until


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


def _dead_run_naming(channel: str) -> str:
    """A run directory made by a child that then died, whose registry names the shared
    memory segment `channel` of its run (never made); returns the run id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            reg = Registry.create()
            reg.add("shm", f"/ipcviz.{reg.run_id}.{channel}")
            os.write(write, reg.run_id.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        run_id = fh.read().decode()
    os.waitpid(pid, 0)
    return run_id


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_a_name_taken_by_another_user_while_clean_looks_is_never_removed(
        monkeypatch: pytest.MonkeyPatch, nothing_left_behind) -> None:
    """A dead run's registry names a segment that is gone. Root's `clean` asks whose it
    is (nobody's: there is none), and in that moment another user creates a segment of
    that name (run ids are public in /dev/shm): it is theirs, and stays."""
    run_id = _dead_run_naming("counter")
    planted = f"/dev/shm/ipcviz.{run_id}.counter"
    real = sweep_module.ipc_owner

    def owner_then_planted(kind: str, name: str) -> int | None:
        found = real(kind, name)
        if found is None and name == f"/ipcviz.{run_id}.counter":
            def plant() -> None:
                fd = os.open(planted, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.write(fd, b"theirs")
                os.close(fd)

            as_nobody(plant)
        return found

    monkeypatch.setattr(sweep_module, "ipc_owner", owner_then_planted)
    try:
        report = sweep_module.sweep_dead_runs()
        assert os.lstat(planted).st_uid == NOBODY
        assert Path(planted).read_bytes() == b"theirs"
        assert f"shm /ipcviz.{run_id}.counter" not in report.removed
        assert any(run_id in item for item in report.removed)  # the run directory went
    finally:
        if os.path.lexists(planted):
            os.unlink(planted)


def _sleeping(marks: tuple[str, ...]) -> list[int]:
    """Pids of processes whose command line is `sleep MARK` for one of `marks`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:1] == [b"sleep"] and argv[1:2] and argv[1].decode() in marks:
            found.append(int(name))
    return found


def test_without_a_cgroup_orphans_that_left_session_and_environment_end_with_the_run(
        nothing_left_behind) -> None:
    """Where no cgroup can be used, a program's children that leave its session at once
    (setsid, one also by a double fork) and clear their environment (`env -i`) are
    orphans the runtime adopted as subreaper: they end with the run all the same."""
    marks = (str(43_000 + os.getpid() % 1000), str(44_000 + os.getpid() % 1000))
    script = (f'setsid sh -c "exec env -i sleep {marks[0]} &"; '
              f'setsid sh -c "(exec env -i sleep {marks[1]} &) &"; sleep 0.5')
    env = {**os.environ, "IPCVIZ_NO_CGROUP": "1"}
    try:
        result = subprocess.run([sys.executable, "-m", "ipcviz", "watch", "--headless",
                                 "--duration", "2", "--", "sh", "-c", script],
                                capture_output=True, text=True, cwd=ROOT, env=env,
                                timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr
        assert "kept together by: subreaper" in result.stdout
        assert _sleeping(marks) == []
    finally:
        for pid in _sleeping(marks):
            os.kill(pid, 9)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")
def test_a_compile_cache_another_user_can_rename_away_is_refused(
        shared_directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """XDG_CACHE_HOME in a shared folder (a home over quota): the cache directories are
    the victim's own and private, but the folder holding them is not. The cached binary's
    path, which the run then executes, is the attacker's to fill: they rename the cache
    away and put their own program at that very path. A cache reached through such a
    directory is refused in one line, before anything is built there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_directory))
    monkeypatch.delenv("CC", raising=False)
    source = tmp_path / "lesson.c"
    source.write_text("int main(void) { return 7; }\n")
    try:
        built: Path | None = compile_c(source)
    except CompileError as exc:
        built = None
        assert str(exc) == (f"{shared_directory}/ipcviz/cc: compile cache reached through "
                            f"{shared_directory}, a directory others may write (mode 0777);"
                            " set XDG_CACHE_HOME to a directory of yours")
    if built is not None:  # the attack, as it goes where the cache was accepted
        def replace() -> None:
            os.rename(shared_directory / "ipcviz", shared_directory / "moved")
            built.parent.mkdir(parents=True)
            built.write_text("#!/bin/sh\nexit 66\n")
            built.chmod(0o755)

        as_nobody(replace)
        ran = subprocess.run([str(built)], timeout=10)
        pytest.fail(f"{built}, the path the run executes, ran another user's program "
                    f"(exit {ran.returncode})")
    assert os.listdir(shared_directory) == []


def test_file_names_a_glob_found_are_printed_escaped_in_usage_errors(tmp_path: Path
                                                                     ) -> None:
    """`ipcviz run --headless ./*.yaml` in a shared directory where another user planted a
    file whose name carries terminal escape sequences: argparse's complaint about the
    extra argument quoted it raw (retitling the terminal, clearing the screen)."""
    planted = tmp_path / "b\x1b]0;owned\x07\x1b[2J.yaml"
    planted.write_text("version: 1\n")
    mine = tmp_path / "a.yaml"
    mine.write_text("version: 1\n")
    for command in (["run", "--headless"], ["quiz"], ["validate", "--bogus"]):
        result = subprocess.run([sys.executable, "-m", "ipcviz", *command, str(mine),
                                 str(planted)], capture_output=True, text=True, cwd=ROOT,
                                timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 2
        assert "\x1b" not in result.stderr and "\x07" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith("ipcviz")
        assert "\\x1b]0;owned\\x07\\x1b[2J" in result.stderr or "--bogus" in result.stderr


def test_clean_ends_an_orphan_that_left_session_and_environment_of_a_killed_run(
        tmp_path: Path, nothing_left_behind) -> None:
    """Without a cgroup, a program's child leaves its session and clears its environment
    at once; then the runtime itself is killed outright (SIGKILL: no shutdown of its own).
    The orphan was the runtime's own child by then (its subreaper), so the run recorded
    it, and `ipcviz clean` ends it."""
    mark = str(45_000 + os.getpid() % 1000)
    scenario = tmp_path / "daemon.yaml"
    scenario.write_text("version: 1\nduration: 60\nworkers:\n  daemon:\n    exec: [sh, -c, "
                        f"'setsid sh -c \"exec env -i sleep {mark} &\"; sleep 60']\n")
    env = {**os.environ, "IPCVIZ_NO_CGROUP": "1"}
    run = subprocess.Popen([sys.executable, "-m", "ipcviz", "run", "--headless",
                            "--allow-exec", str(scenario)], cwd=ROOT, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    root = Path(os.environ["IPCVIZ_RUN_ROOT"])
    try:
        def recorded() -> int | None:
            """The orphan's pid, once the run has written it down for clean."""
            found = _sleeping((mark,))
            records = [p.read_text() for p in root.glob(f"{run.pid}-*/processes")]
            return found[0] if found and any(f"{found[0]} " in t for t in records) else None

        orphan = wait_until(recorded, 30, message="the orphan recorded for clean")
        os.kill(run.pid, 9)
        run.wait(timeout=30)
        assert _sleeping((mark,)) == [orphan]  # it outlived the killed runtime
        result = subprocess.run([sys.executable, "-m", "ipcviz", "clean"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"removed process {orphan}" in result.stdout.splitlines()
        assert _sleeping((mark,)) == []
    finally:
        if run.poll() is None:
            os.kill(run.pid, 9)
            run.wait(timeout=30)
        for pid in _sleeping((mark,)):
            os.kill(pid, 9)
        subprocess.run([sys.executable, "-m", "ipcviz", "clean"], cwd=ROOT, env=env,
                       capture_output=True, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_a_checked_outputs_directory_swapped_for_a_link_is_not_followed(
        shared_directory: Path, tmp_path: Path) -> None:
    """`quiz --report shared/reports/me.json` (and screenshot -o, export -o) checks the
    name before the run and writes after it: meanwhile another user who may write the
    shared folder renames `reports` away and puts a link to the victim's directory in its
    place, where a file of the victim's own has that name. It is not replaced: the report
    goes into the directory that was checked."""
    victims = tmp_path / "home"
    victims.mkdir()
    (victims / "me.json").write_text("precious\n")
    reports = shared_directory / "reports"
    reports.mkdir()
    try:
        assert output_problem(reports / "me.json") is None

        def swap() -> None:
            os.rename(reports, shared_directory / "moved")
            os.symlink(victims, reports)

        as_nobody(swap)
        write_output(reports / "me.json", b"{}\n")
        assert (victims / "me.json").read_text() == "precious\n"
        assert (shared_directory / "moved" / "me.json").read_bytes() == b"{}\n"
    finally:
        fd = outputs._PINNED.pop(str(reports), None)
        if fd is not None:
            os.close(fd)


def _http_status(port: int, path: str = "/") -> bytes:
    """The status line `ipcviz serve` on 127.0.0.1:`port` answers a GET of `path` with."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_serve_without_a_token_answers_no_other_local_user(tmp_path: Path) -> None:
    """`ipcviz serve` on 127.0.0.1 needs no token, so every local user could open its
    lessons (and run them as the teacher's uid, up to --max-sessions). A connection from
    another uid is refused; the user's own is served."""
    pytest.importorskip("textual_serve")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "ipcviz", "serve", "--port", "0"],
                                  cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        def printed() -> re.Match[str] | bool | None:  # (True: it ended without one)
            return re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text()) \
                or server.poll() is not None

        found = wait_until(printed, 30, message=lambda: f"an address:\n{log.read_text()}")
        assert isinstance(found, re.Match), f"it ended:\n{log.read_text()}"
        port = int(found.group(1))
        assert _http_status(port, "/lesson/pipe_oneway") == b"HTTP/1.0 200 OK"
        assert as_user(lambda: _http_status(port, "/lesson/pipe_oneway"),
                       NOBODY) == b"HTTP/1.0 403 Forbidden"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
