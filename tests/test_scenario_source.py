"""What runs is what was checked: a scenario file is read once, and everything (validation,
the --allow-exec rule, the runtime process, a reload) is decided on those bytes.

The attacks are performed for real: another user (uid 65534 when the tests run as root)
owns the directory a lesson is in and, on the victim's first close of the file (inotify),
renames a symbolic link to a bundled scenario in its place; a reloaded file whose programs
changed; a planted file with a bundled scenario's name; a file with thousands of problems.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pytest

from ipcviz.scenario.paths import bundled_dir
from tests.conftest import ROOT, run_cli
from tests.users import NOBODY

#: inotify's event for a file opened read-only being closed
IN_CLOSE_NOWRITE = 0x10

#: an `exec:` lesson as another user would leave it: its program writes MARKER; a
#: thousand steps make it slow to check, which widens the window between read and check
EXEC_LESSON = """\
duration: 3
workers:
  pad: {{steps: [{steps}]}}
  p:
    exec: [sh, -c, "echo pwned > {marker}"]
""".replace("{steps}", ", ".join(["{{sleep: 0.001}}"] * 1000))


class Swapper:
    """Another user watching `path` with inotify: at the first close of it after a read,
    renames `replacement` over it (the attack of the issue). Runs as uid 65534 when the
    test runs as root (the directory is then theirs), else as the test's own user."""

    def __init__(self, path: Path, replacement: Path):
        libc = ctypes.CDLL(None, use_errno=True)
        ready_r, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(ready_r)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                ifd = libc.inotify_init1(os.O_CLOEXEC)
                if ifd < 0 or libc.inotify_add_watch(ifd, os.fsencode(path),
                                                     IN_CLOSE_NOWRITE) < 0:
                    raise OSError(ctypes.get_errno(), "inotify")
                os.write(ready_w, b"r")
                if select.select([ifd], [], [], 30)[0]:
                    os.rename(replacement, path)
                    code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(ready_w)
        ready = os.read(ready_r, 1)
        os.close(ready_r)
        if ready != b"r":
            self.swapped()
            pytest.fail("the other user's watcher did not start")

    def swapped(self) -> bool:
        """Wait for the other user; whether it did the swap."""
        if self.pid is None:
            return False
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return os.waitstatus_to_exitcode(status) == 0

    def end(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, 9)
            self.swapped()


@pytest.fixture
def shared_dir():
    """A directory another user owns (uid 65534 when we are root), in /tmp so that user
    can enter it whatever directory the checkout is in; removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ipcviz-test-shared-", dir="/tmp"))
    directory.chmod(0o755)
    swappers: list[Swapper] = []
    yield directory, swappers
    for swapper in swappers:
        swapper.end()
    shutil.rmtree(directory, ignore_errors=True)


def plant_lesson(directory: Path) -> tuple[Path, Path, Path]:
    """The other user's `exec:` lesson and, beside it, a link to a bundled scenario to
    rename over it; all theirs. Returns (lesson, link, marker)."""
    marker = directory / "pwned"
    lesson = directory / "lesson.yaml"
    lesson.write_text(EXEC_LESSON.format(marker=marker))
    link = directory / ".next"
    link.symlink_to(bundled_dir() / "pipe_two_way.yaml")
    if os.geteuid() == 0:
        for item in (directory, lesson):
            os.chown(item, NOBODY, NOBODY)
        os.lchown(link, NOBODY, NOBODY)
    return lesson, link, marker


REFUSAL = ("worker 'p' runs a program (exec:), which can do anything you can; read the "
           "file, then run it with --allow-exec")


def test_headless_run_of_a_file_swapped_for_a_bundled_link_never_starts_its_program(
        shared_dir, nothing_left_behind) -> None:
    """`ipcviz run D/lesson.yaml --headless` without --allow-exec: the file read is the
    other user's `exec:` lesson; right after the read it is a link to a bundled scenario.
    The permission is decided on the bytes read (not bundled), so nothing starts."""
    directory, swappers = shared_dir
    lesson, link, marker = plant_lesson(directory)
    swappers.append(swapper := Swapper(lesson, link))
    result = run_cli("run", str(lesson), "--headless")
    assert swapper.swapped() and lesson.is_symlink()  # the attack happened
    assert result.returncode == 2, result.stdout
    assert result.stderr.strip().splitlines() == [f"{lesson}: {REFUSAL}"]
    time.sleep(0.2)  # nothing should happen: a program started by mistake writes at once
    assert not marker.exists()


def test_the_runtime_process_runs_the_bytes_the_app_read(shared_dir,
                                                         nothing_left_behind) -> None:
    """The live app's runtime process gets the bytes the app read, never the path: the
    same swap after the app's read cannot make it see a bundled file."""
    from ipcviz.tui.source import LiveSource

    directory, swappers = shared_dir
    lesson, link, marker = plant_lesson(directory)
    swappers.append(swapper := Swapper(lesson, link))
    source = LiveSource(str(lesson))
    try:
        problems = source.first_error()
        assert swapper.swapped() and lesson.is_symlink()
        assert problems == [f"{lesson}: {REFUSAL}"]
    finally:
        source.stop()
    assert not marker.exists()


def test_a_link_to_a_bundled_scenario_is_bundled_by_its_inode(tmp_path) -> None:
    """"Bundled" is the open file's device and inode: a link to a bundled file is one
    (its programs' directory is the bundled one), a copy of it is not."""
    from ipcviz.scenario.load import load_scenario

    bundled = bundled_dir() / "pipe_two_way.yaml"
    (tmp_path / "link.yaml").symlink_to(bundled)
    shutil.copy(bundled, tmp_path / "copy.yaml")
    linked = load_scenario(tmp_path / "link.yaml")
    assert linked.bundled and linked.path == str(bundled)
    copied = load_scenario(tmp_path / "copy.yaml")
    assert not copied.bundled and copied.path == str(tmp_path / "copy.yaml")


# ------------------------------------------------------------------ reloads

RELOADED = """\
duration: 30
workers:
  w: {{steps: [{{sleep: 30}}]}}
  p: {{exec: [{program}]}}
"""


def confirming(app) -> bool:
    """Whether the app asks to confirm new programs (reload.py's ConfirmProgramsScreen)."""
    return type(app.screen).__name__ == "ConfirmProgramsScreen"


def test_a_reload_with_new_programs_starts_none_until_confirmed(
        tmp_path, nothing_left_behind) -> None:
    """Launched with --allow-exec on `sleep 30`. A new version that changes only a step
    restarts at once; one whose program is something else shows its command line and
    starts nothing, whether the watch on the file found it (no key pressed) or ctrl+r:
    any key but y keeps the old run; y restarts on that version."""
    from ipcviz.tui.app import make_app
    from ipcviz.tui.source import LiveSource
    from tests.test_tui_live import frames_later, wait_started
    from tests.waiting import until

    marker = tmp_path / "ran"
    path = tmp_path / "lesson.yaml"
    path.write_text(RELOADED.format(program="sleep, '30'"))
    first = LiveSource(str(path), allow_exec=True)

    def new_version(text: str) -> None:
        path.write_text(text)
        os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime for sure

    async def scenario() -> None:
        app = make_app(source=first)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await until(pilot, lambda: app.authoring.watched is not None)  # the watch has begun
            new_version(path.read_text().replace("{sleep: 30}", "{exit: 3}"))
            await until(pilot, lambda: app.source is not first and app.latest
                           is not None and app.latest.worker("w").exit == 3, timeout=15)
            assert not confirming(app)  # the same programs: no question
            second = app.source
            await wait_started(pilot, app)
            old = app.latest.worker("p").pid
            new_version(RELOADED.format(program=f"sh, -c, 'echo ran > {marker}; sleep 30'"))
            await until(pilot, lambda: confirming(app), timeout=15)
            assert app.screen.lines == [f"p: sh -c 'echo ran > {marker}; sleep 30'"]
            await pilot.press("n")
            await until(pilot, lambda: not confirming(app), message="the question answered")
            await frames_later(pilot, app, 5)
            assert app.source is second and app.latest.worker("p").pid == old
            assert not marker.exists()
            await pilot.press("ctrl+r")  # the same decision on a restart
            await until(pilot, lambda: confirming(app))
            assert not marker.exists()
            await pilot.press("y")
            await until(pilot, lambda: app.source is not second and marker.exists())
            for done in (first, second):
                assert done.leaks == {"processes": 0, "ipc_objects": 0, "details": []}
            await pilot.press("q")

    asyncio.run(scenario())


# ------------------------------------------------------------------ names

PLANTED = """\
name: planted
workers:
  w: {steps: [{sleep: 0.1}]}
"""


@pytest.mark.parametrize("name", ["pipe_two_way", "pipe_two_way.yaml"])
def test_a_bare_bundled_name_is_the_bundled_scenario_even_beside_a_planted_file(
        name, tmp_path, monkeypatch, capsys) -> None:
    from ipcviz.scenario.load import load_scenario

    bundled = bundled_dir() / "pipe_two_way.yaml"
    (tmp_path / name).write_text(PLANTED)
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(name)
    assert scenario.bundled and scenario.name != "planted"
    assert capsys.readouterr().err.splitlines() == [
        f"ipcviz: {name}: loaded the bundled scenario {bundled}; for the file in this "
        f"directory write ./{name}"]
    assert load_scenario(f"./{name}").name == "planted"  # written as a path: the file
    assert capsys.readouterr().err == ""


def test_the_command_says_which_file_a_shadowed_name_loaded(tmp_path) -> None:
    (tmp_path / "pipe_two_way").write_text(PLANTED)
    result = subprocess.run([sys.executable, "-m", "ipcviz", "validate", "pipe_two_way"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"ipcviz: pipe_two_way: loaded the bundled scenario "
        f"{bundled_dir() / 'pipe_two_way.yaml'}; for the file in this directory write "
        "./pipe_two_way"]


# ------------------------------------------------------------------ problem lines

def test_thousands_of_problems_print_fifty_lines_and_a_count(tmp_path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("workers:\n  w: {steps: [{sleep: 1}]}\n"
                    + "".join(f"k{i}: 1\n" for i in range(5000)))
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 51
    assert lines[0].startswith(f"{path}:3:1: k0: unknown field 'k0'")
    assert lines[49].startswith(f"{path}:52:1: k49: unknown field 'k49'")
    assert lines[50] == "... and 4,950 more problems"
    assert "Traceback" not in result.stderr


def test_a_misspelled_lesson_name_gets_the_close_bundled_names() -> None:
    result = run_cli("run", "signal_handlers", "--headless")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("did you mean signals_handlers?)")
    far = run_cli("run", "no_such_lesson_at_all", "--headless")
    assert "did you mean" not in far.stderr and "`ipcviz list` shows those" in far.stderr
