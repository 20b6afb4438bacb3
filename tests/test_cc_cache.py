"""The C compile cache (observe/cc.py) builds exactly the bytes it hashed: a source swapped
between the hash and the compiler's read is not what lands under the old source's name.
A source that is a FIFO, /dev/zero or a directory is refused in one line without waiting;
a cache directory that is not private is refused; the binary is 0700."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ipcviz.observe.cc import CompileError, compile_c

from .conftest import ROOT

#: a compiler that, like an attacker racing the victim, rewrites the source the moment the
#: compiler starts (after ipcviz read and hashed it), then compiles whatever it was given
SWAPPING_CC = """#!/bin/sh
printf 'int main(void) { return 66; }\\n' > "$SWAP_TARGET"
exec "$REAL_CC" "$@"
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CC", raising=False)
    return tmp_path / "cache" / "ipcviz" / "cc"


def test_a_source_swapped_after_it_was_hashed_is_not_what_gets_built(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "lesson.c"
    source.write_text("int main(void) { return 7; }\n")
    wrapper = tmp_path / "swapping-cc"
    wrapper.write_text(SWAPPING_CC)
    wrapper.chmod(0o700)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setenv("REAL_CC", shutil.which("cc") or "cc")
    monkeypatch.setenv("SWAP_TARGET", str(source))
    built = compile_c(source)
    assert source.read_text() == "int main(void) { return 66; }\n"  # the swap happened
    assert subprocess.run([str(built)]).returncode == 7  # the hashed bytes were built
    assert stat.S_IMODE(built.stat().st_mode) == 0o700
    rebuilt = compile_c(source)  # now the swapped text: its own name, its own binary
    assert rebuilt != built and subprocess.run([str(rebuilt)]).returncode == 66
    assert sorted(p.name for p in cache.iterdir()) == sorted([built.name, rebuilt.name])


def test_the_compiler_reads_a_private_copy_not_the_users_path(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the compiler is given: a 0600 file in a 0700 directory of the cache."""
    seen = tmp_path / "seen"
    spy = tmp_path / "spy-cc"
    spy.write_text('#!/bin/sh\nfor a; do case "$a" in *.c) stat -c "%a %n" "$a" '
                   '"$(dirname "$a")" > "$SEEN";; esac; done\nexec "$REAL_CC" "$@"\n')
    spy.chmod(0o700)
    monkeypatch.setenv("CC", str(spy))
    monkeypatch.setenv("REAL_CC", shutil.which("cc") or "cc")
    monkeypatch.setenv("SEEN", str(seen))
    source = tmp_path / "lesson.c"
    source.write_text("int main(void) { return 0; }\n")
    compile_c(source)
    file_line, dir_line = seen.read_text().splitlines()
    mode, path = file_line.split(" ", 1)
    assert mode == "600" and Path(path).parent.parent == cache and path != str(source)
    assert dir_line.split(" ", 1)[0] == "700"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # cleaned up


def test_a_source_that_is_no_regular_file_is_refused_at_once(tmp_path: Path,
                                                             cache: Path) -> None:
    fifo = tmp_path / "fifo.c"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.c"
    zero.symlink_to("/dev/zero")
    cases = {fifo: f"{fifo}: is a FIFO (named pipe), not a C source",
             zero: f"{zero}: is a device, not a C source",
             tmp_path: f"{tmp_path}: is a directory, not a C source"}
    try:
        for path, line in cases.items():
            with pytest.raises(CompileError) as refused:
                compile_c(path)
            assert str(refused.value) == line
    finally:
        fifo.unlink()


def test_a_scenario_naming_a_fifo_source_ends_in_one_line(tmp_path: Path,
                                                         nothing_left_behind) -> None:
    """`exec: [prog.c]` where prog.c is a FIFO: the run is refused, exit 2 (it waited
    forever in the source's read before)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    fifo = tmp_path / "prog.c"
    os.mkfifo(fifo)
    scenario = tmp_path / "lab.yaml"
    scenario.write_text("version: 1\nname: lab\nduration: 1\n"
                        "workers:\n  prog:\n    exec: [prog.c]\n")
    try:
        result = subprocess.run([sys.executable, "-m", "ipcviz", "run", str(scenario),
                                 "--headless", "--allow-exec"], capture_output=True,
                                text=True, timeout=30, cwd=ROOT, stdin=subprocess.DEVNULL)
    finally:
        fifo.unlink()
    assert result.returncode == 2, result.stderr
    assert f"worker 'prog': {fifo}: is a FIFO (named pipe), not a C source" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["open to others", "a link", "another user's"])
def test_a_cache_directory_that_is_not_private_is_refused(tmp_path: Path, cache: Path,
                                                          how: str) -> None:
    source = tmp_path / "lesson.c"
    source.write_text("int main(void) { return 0; }\n")
    cache.parent.mkdir(parents=True)
    if how == "open to others":
        cache.mkdir(mode=0o755)
        cache.chmod(0o755)
    elif how == "a link":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        cache.symlink_to(elsewhere)
    else:
        if os.getuid() != 0:
            pytest.skip("needs root to make a directory of another user")
        cache.mkdir(mode=0o700)
        os.chown(cache, 12345, 12345)
    with pytest.raises(CompileError) as refused:
        compile_c(source)
    assert str(refused.value).startswith(f"{cache}: compile cache not a private directory")
