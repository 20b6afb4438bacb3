"""Output files never follow a link and never replace what is not the user's own regular
file (host/outputs.py), for every command that writes one: a link planted where `record
-o` or `screenshot` writes leaves its target untouched and the command says so in one
line, exit 2, before anything runs. And every command shows a file's control characters
escaped, never raw."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ipcviz.host.outputs import OutputRefused, open_output, output_directory, write_output

from .conftest import ROOT, SCENARIOS

PRECIOUS = "export PATH=$HOME/bin:$PATH  # the victim's .bashrc\n"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A shared directory where someone linked `run.jsonl` to the victim's file."""
    victim = tmp_path / "bashrc"
    victim.write_text(PRECIOUS)
    shared = tmp_path / "course"
    shared.mkdir()
    return victim, shared


def link_line(path: Path) -> str:
    return f"{path}: is a symbolic link; not written (an output never goes through a link)\n"


# ---------------------------------------------------------------- the helper


def test_a_new_file_is_created_and_an_own_file_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_output(path, b"first\n")
    assert path.read_bytes() == b"first\n"
    assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0
    write_output(path, b"2\n")  # truncated, not appended to
    assert path.read_bytes() == b"2\n"


def test_a_link_even_a_dangling_one_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text(PRECIOUS)
    link = tmp_path / "out"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "would-be-created")
    for path in (link, dangling):
        with pytest.raises(OutputRefused) as refused:
            write_output(path, b"pwned\n")
        assert str(refused.value) + "\n" == link_line(path)
    assert victim.read_text() == PRECIOUS
    assert not (tmp_path / "would-be-created").exists()


def test_a_fifo_a_hard_link_and_a_directory_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody reads it: an open for writing would wait forever
    original = tmp_path / "original"
    original.write_text(PRECIOUS)
    hard = tmp_path / "hard"
    os.link(original, hard)
    cases = {fifo: "is not a regular file (a FIFO, socket or device); not written",
             hard: "has other hard links; not replaced (it would change them too)",
             tmp_path: "is a directory; name a file"}
    try:
        for path, why in cases.items():
            with pytest.raises(OutputRefused) as refused:
                open_output(path)
            assert str(refused.value) == f"{path}: {why}"
    finally:
        fifo.unlink()
    assert original.read_text() == PRECIOUS


def test_another_users_file_is_not_replaced(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to make a file of another user")
    theirs = tmp_path / "theirs"
    theirs.write_text(PRECIOUS)
    os.chown(theirs, 12345, 12345)
    with pytest.raises(OutputRefused) as refused:
        write_output(theirs, b"x")
    assert str(refused.value) == f"{theirs}: belongs to another user (uid 12345); not replaced"
    assert theirs.read_text() == PRECIOUS


def test_an_output_directory_must_be_a_real_directory_of_ours(tmp_path: Path) -> None:
    made = tmp_path / "a" / "gallery"
    output_directory(made)
    assert made.is_dir()
    link = tmp_path / "link"
    link.symlink_to(made)
    with pytest.raises(OutputRefused) as refused:
        output_directory(link)
    assert str(refused.value) == (f"{link}: is a symbolic link; not written into (name the "
                                  "directory itself)")


# ---------------------------------------------------------------- the commands


def test_record_does_not_truncate_a_linked_file(planted: tuple[Path, Path],
                                                nothing_left_behind) -> None:
    victim, shared = planted
    (shared / "run.jsonl").symlink_to(victim)
    result = cli("record", str(SCENARIOS / "pipe_oneway.yaml"), "-o", "run.jsonl",
                 "--duration", "1", cwd=shared)
    assert (result.returncode, result.stderr) == (2, link_line(Path("run.jsonl")))
    assert victim.read_text() == PRECIOUS


def test_record_to_a_planted_fifo_is_refused_without_waiting(planted: tuple[Path, Path],
                                                             nothing_left_behind) -> None:
    """Nobody reads the FIFO: the old open for writing waited for a reader forever."""
    _, shared = planted
    fifo = shared / "run.jsonl"
    os.mkfifo(fifo)
    try:
        result = cli("record", str(SCENARIOS / "pipe_oneway.yaml"), "-o", "run.jsonl",
                     "--duration", "1", cwd=shared)
    finally:
        fifo.unlink()
    assert (result.returncode, result.stderr) == (
        2, "run.jsonl: is not a regular file (a FIFO, socket or device); not written\n")


def test_screenshot_does_not_write_through_a_link(planted: tuple[Path, Path],
                                                  nothing_left_behind) -> None:
    victim, shared = planted
    (shared / "pipe_oneway.svg").symlink_to(victim)
    result = cli("screenshot", "pipe_oneway", "--at", "0.2", cwd=shared)
    assert (result.returncode, result.stderr) == (2, link_line(Path("pipe_oneway.svg")))
    assert victim.read_text() == PRECIOUS


def test_screenshot_does_not_write_its_png_through_a_link(planted: tuple[Path, Path],
                                                          nothing_left_behind) -> None:
    victim, shared = planted
    (shared / "shot.png").symlink_to(victim)
    result = cli("screenshot", "pipe_oneway", "-o", "shot.svg", "--at", "0.2", cwd=shared)
    assert (result.returncode, result.stderr) == (2, link_line(Path("shot.png")))
    assert victim.read_text() == PRECIOUS
    assert not (shared / "shot.svg").exists()  # refused before anything was made


def test_a_gallery_is_not_written_into_a_planted_link(planted: tuple[Path, Path],
                                                      nothing_left_behind) -> None:
    victim, shared = planted
    (shared / "gallery").mkdir()
    (shared / "gallery" / "deadlock.svg").symlink_to(victim)
    result = cli("screenshot", "--all", "-o", "gallery", cwd=shared)
    assert (result.returncode, result.stderr) == (2, link_line(Path("gallery/deadlock.svg")))
    assert victim.read_text() == PRECIOUS


# ---------------------------------------------------------------- control characters

HOSTILE = """\
version: 1
name: "title \\e]0;pwned\\a"
workers:
  "a\\e[2Jb":
    steps: [{sleep: 1}]
"""


def test_no_command_prints_a_files_control_characters(tmp_path: Path) -> None:
    """validate, run, record and screenshot on a file whose worker name holds escape
    sequences, and show, new and replay given such a name: the lines show them as
    \\x1b, never as the raw bytes."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(HOSTILE)
    taken = tmp_path / "a\x1b[2Jb.yaml"  # `new` refuses an existing file, naming it
    taken.write_text("")
    for args in (["validate", str(bad)], ["run", str(bad), "--headless"],
                 ["record", str(bad), "-o", str(tmp_path / "r.jsonl")],
                 ["screenshot", str(bad), "-o", str(tmp_path / "s.svg")],
                 ["show", "a\x1b[2Jb"], ["new", str(taken)],
                 ["replay", str(taken)]):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "\\x1b[2J" in result.stderr, args
        assert "\x1b" not in result.stderr + result.stdout, args
