"""A default run root another user took (`/tmp/ipcviz-UID` as their directory, a file or a
link) does not stop a user's runs: a private root of the user's own is used instead, the
same one again by `clean` and the next run; where none works, the one line names
IPCVIZ_RUN_ROOT. Planted for real as uid 65534 in a /tmp of the test's own."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT
from .namespaces import private_namespaces_possible, remount_read_only, with_private_tmp
from .users import NOBODY, as_nobody

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="planting as another uid in a "
                                "private /tmp needs root")

SIMPLE = """\
    duration: 0.3
    workers:
      a: {steps: [{sleep: 0.05}], loop: 2}
    """
SQUAT = Path(f"/tmp/ipcviz-{os.getuid()}")


@pytest.fixture(autouse=True)
def _namespaces() -> None:
    why = private_namespaces_possible()
    if why:
        pytest.skip(why)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ipcviz ARGS` with no run root chosen, HOME set to `home`."""
    env = {k: v for k, v in os.environ.items() if k not in (
        "IPCVIZ_RUN_ROOT", "IPCVIZ_RUN_LOG", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


def _scenario() -> Path:
    path = Path("/tmp/s.yaml")
    path.write_text(textwrap.dedent(SIMPLE))
    return path


def _plant(kind: str) -> None:
    """As nobody: take /tmp/ipcviz-UID with an open directory, a file or a link."""
    def action() -> None:
        if kind == "directory":
            SQUAT.mkdir(mode=0o777)
        elif kind == "file":
            SQUAT.write_text("mine")
        else:
            SQUAT.symlink_to("/root")
    as_nobody(action, umask=0)


def _run_ok(home: Path) -> None:
    result = _cli(home, "run", str(_scenario()), "--headless", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["leaks"] == {"processes": 0, "ipc_objects": 0}


def _private_of_ours(path: Path) -> bool:
    info = path.lstat()
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and stat.S_IMODE(info.st_mode) == 0o700)


@pytest.mark.parametrize("kind", ["directory", "file", "link"])
def test_a_squatted_default_root_gives_way_to_one_in_the_users_cache(
        kind: str, nothing_left_behind) -> None:
    """Before: 'run root /tmp/ipcviz-0: belongs to uid 65534 ...', exit 2, for every run,
    every clean and the bare app, until the other user removed it."""
    def inside() -> None:
        _plant(kind)
        home = Path("/tmp/home")
        home.mkdir(mode=0o700)
        _run_ok(home)
        root = home / ".cache" / "ipcviz-runs"
        assert _private_of_ours(root) and list(root.iterdir()) == []
        dead = next(pid for pid in range(4_000_000, 1, -1) if not os.path.exists(f"/proc/{pid}"))
        leftover = root / f"{dead}-abcdef"  # a killed run's directory: clean finds this root
        leftover.mkdir(mode=0o700)
        result = _cli(home, "clean")
        assert result.returncode == 0, result.stderr
        assert f"removed run directory {leftover}" in result.stdout.splitlines()
        assert SQUAT.lstat().st_uid == NOBODY  # the other user's entry: untouched
        if kind == "directory":
            assert stat.S_IMODE(SQUAT.lstat().st_mode) == 0o777
            assert list(SQUAT.iterdir()) == []
    with_private_tmp(inside)


def test_with_no_usable_home_a_fresh_private_root_in_tmp_is_used_and_found_again(
        nothing_left_behind) -> None:
    """A home others may write (or none): a private `/tmp/ipcviz-UID.<16 hex>` of ours;
    one planted by another user under that pattern is never used."""
    def inside() -> None:
        _plant("directory")
        home = Path("/tmp/open")
        home.mkdir()
        os.chmod(home, 0o777)  # others could swap ~/.cache: not used
        planted = Path(f"/tmp/ipcviz-{os.getuid()}.{'0' * 16}")
        as_nobody(lambda: planted.mkdir(mode=0o700))
        _run_ok(home)
        fresh = [p for p in Path("/tmp").iterdir()
                 if re.fullmatch(rf"ipcviz-{os.getuid()}\.[0-9a-f]{{16}}", p.name)
                 and p != planted]
        assert len(fresh) == 1 and _private_of_ours(fresh[0])
        assert not (home / ".cache").exists()
        _run_ok(home)
        assert [p for p in Path("/tmp").iterdir() if p.name.startswith(
            f"ipcviz-{os.getuid()}.")] and fresh[0].is_dir()
        assert sorted(Path("/tmp").glob(f"ipcviz-{os.getuid()}.*")) == sorted(
            [planted, fresh[0]])
        assert planted.lstat().st_uid == NOBODY and list(planted.iterdir()) == []
    with_private_tmp(inside)


def test_where_no_private_root_works_the_one_line_names_ipcviz_run_root(
        nothing_left_behind) -> None:
    def inside() -> None:
        _plant("directory")
        home = Path("/tmp/open")
        home.mkdir()
        os.chmod(home, 0o777)
        remount_read_only("/tmp")  # no fresh directory can be made
        result = _cli(home, "run", str(Path("/dev/null")), "--headless")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"run root {SQUAT}: belongs to uid {NOBODY}")
        assert "IPCVIZ_RUN_ROOT" in lines[0] and "Traceback" not in result.stderr
    with_private_tmp(inside)
