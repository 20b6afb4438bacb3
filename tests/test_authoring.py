"""The commands for scenario writers, run for real: `python -m ipcviz ...` in a subprocess."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ipcviz.scenario.json_schema import MODELINE_PREFIX
from ipcviz.scenario.paths import bundled_scenarios

from .conftest import ROOT, SCENARIOS, run_cli
from .terminal import Terminal

BUNDLED = bundled_scenarios()  # in the course's order


def cli_in(cwd: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m ipcviz ARGS` run from another directory (the package is installed)."""
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


def _description(path: Path) -> str:
    return " ".join(yaml.safe_load(path.read_text())["description"].split())


# ---------------------------------------------------------------- --version, list, show


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"ipcviz {importlib.metadata.version('ipcviz')}\n"


def test_list_shows_each_title_and_its_first_sentence_whole() -> None:
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(BUNDLED)
    for path, line in zip(BUNDLED, lines):
        data = yaml.safe_load(path.read_text())
        name, rest = line.split(maxsplit=1)
        assert name == path.stem
        title, sentence = rest.split(": ", 1)
        assert title == data["name"]
        description = _description(path)
        # a whole sentence: the start of the description, ending where a sentence ends
        assert description.startswith(sentence), (path.stem, sentence)
        assert sentence.endswith((".", "!", "?")), (path.stem, sentence)
        after = description[len(sentence):]
        assert after == "" or after.startswith(" "), (path.stem, sentence)
        assert not re.search(r"[.!?] [A-Z`]", sentence), (path.stem, "two sentences")


def test_list_long_shows_whole_descriptions() -> None:
    result = run_cli("list", "--long")
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    for path in BUNDLED:
        assert _description(path) in flat, path.stem


def test_show_prints_the_bundled_file() -> None:
    """As shipped, but for its first line: the schema by absolute path, so a copy saved
    anywhere (`ipcviz show NAME > mine.yaml`) still gets the editor's completion."""
    from ipcviz.authoring import modeline

    result = run_cli("show", "pipe_two_way")
    assert result.returncode == 0
    shipped = (SCENARIOS / "pipe_two_way.yaml").read_text().splitlines(keepends=True)
    assert result.stdout == modeline() + "\n" + "".join(shipped[1:])
    schema = Path(modeline().split("$schema=", 1)[1])
    assert schema.is_absolute() and schema.is_file()
    assert run_cli("show", "pipe_two_way.yaml").stdout == result.stdout


def test_show_unknown_name_is_one_line(tmp_path: Path) -> None:
    # a path on disk is not a bundled scenario: show never prints arbitrary files
    secret = tmp_path / "notes.yaml"
    secret.write_text("private: 1\n")
    for name in ("no_such_scenario", str(secret)):
        result = run_cli("show", name)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "no bundled scenario" in lines[0] and "pipe_two_way" in lines[0]


# ---------------------------------------------------------------- new


def test_new_writes_a_starter_that_loads_and_passes_its_checks(tmp_path: Path,
                                                               nothing_left_behind) -> None:
    result = cli_in(tmp_path, "new", "lesson.yaml")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "lesson.yaml"
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith(MODELINE_PREFIX)
    assert Path(first[len(MODELINE_PREFIX):]).is_file()  # the installed schema, by path
    assert text.count("\n# ") >= 2  # commented
    assert cli_in(tmp_path, "validate", "lesson.yaml").returncode == 0
    run = cli_in(tmp_path, "run", "lesson.yaml", "--headless", "--check")
    assert run.returncode == 0, run.stdout + run.stderr


def test_new_from_a_bundled_scenario(tmp_path: Path) -> None:
    result = cli_in(tmp_path, "new", "mine.yaml", "--from", "deadlock")
    assert result.returncode == 0, result.stderr
    copied = (tmp_path / "mine.yaml").read_text().splitlines(keepends=True)
    original = (SCENARIOS / "deadlock.yaml").read_text().splitlines(keepends=True)
    assert copied[0].startswith(MODELINE_PREFIX)
    assert Path(copied[0][len(MODELINE_PREFIX):].strip()).is_file()
    assert copied[1:] == original[1:]
    assert cli_in(tmp_path, "validate", "mine.yaml").returncode == 0
    missing = cli_in(tmp_path, "new", "x.yaml", "--from", "nope")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1
    assert not (tmp_path / "x.yaml").exists()


def test_new_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "exists.yaml"
    target.write_text("mine\n")
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    (tmp_path / "link.yaml").symlink_to(victim)  # planted in a shared directory
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "created-through-link")
    for name in ("exists.yaml", "link.yaml", "dangling.yaml"):
        result = cli_in(tmp_path, "new", name)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [f"{name}: already exists; not overwritten "
                                              "(choose another name)"]
    assert target.read_text() == "mine\n"
    assert victim.read_text() == "do not touch\n"
    assert not (tmp_path / "created-through-link").exists()


# ---------------------------------------------------------------- docs


def test_docs_prints_the_reference_when_not_on_a_terminal() -> None:
    """`ipcviz docs | head` reads the text itself; `--path` says where the file is."""
    result = run_cli("docs")
    assert result.returncode == 0
    assert result.stdout.startswith("# Writing ipcviz scenarios")
    assert result.stdout == (ROOT / "docs" / "scenario-format.md").read_text()
    where = run_cli("docs", "--path")
    path = Path(where.stdout.strip())
    assert path.is_file() and path.read_text() == result.stdout


def test_docs_on_a_terminal_opens_the_pager(tmp_path: Path) -> None:
    pager = tmp_path / "pager"
    pager.write_text("#!/bin/sh\necho \"PAGER $# $1\"\n")
    pager.chmod(0o755)
    env = {**os.environ, "PAGER": str(pager)}
    term = Terminal("docs", env=env)
    code = term.wait(60)
    out = bytes(term.output)
    assert code == 0, out
    assert out.decode().strip() == f"PAGER 1 {ROOT / 'docs' / 'scenario-format.md'}"


# ---------------------------------------------------------------- screenshot


def _gallery_hashes() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT / "screenshots").glob("*"))}


def test_screenshot_writes_into_the_current_directory(tmp_path: Path,
                                                      nothing_left_behind) -> None:
    before = _gallery_hashes()
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no rsvg-convert
    result = cli_in(tmp_path, "screenshot", "pipe_oneway", "--at", "0.3", env=env,
                    timeout=120)
    assert result.returncode == 0, result.stderr
    svg = tmp_path / "pipe_oneway.svg"
    assert svg.read_text().startswith("<svg")
    assert result.stdout.splitlines() == [f"saved {svg.name}"]
    assert _gallery_hashes() == before  # the tracked gallery is left alone
    try:
        import cairosvg  # noqa: F401
    except ImportError:
        hint = [line for line in result.stderr.splitlines() if "PNG" in line]
        assert len(hint) == 1 and "librsvg2-bin" in hint[0] and "cairosvg" in hint[0]
        assert not (tmp_path / "pipe_oneway.png").exists()


def test_screenshot_all_needs_a_directory(tmp_path: Path) -> None:
    result = cli_in(tmp_path, "screenshot", "--all")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "-o DIR" in result.stderr
    assert list(tmp_path.iterdir()) == []
    both = cli_in(tmp_path, "screenshot", "pipe_oneway", "--all", "-o", "g")
    assert both.returncode == 2 and len(both.stderr.splitlines()) == 1


def test_a_broken_pipe_that_is_not_stdouts_is_not_a_silent_success(monkeypatch) -> None:
    """`ipcviz list | head` ends quietly; a BrokenPipeError from anything else (a run's own
    pipes) used to end the command with status 0 and no output at all."""
    import pytest as _pytest

    from ipcviz import authoring, cli

    def boom(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(authoring, "list_command", boom)
    with _pytest.raises(BrokenPipeError):
        cli.main(["list"])
    result = subprocess.run(f"{sys.executable} -m ipcviz list | head -1", shell=True,
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stderr == "" and result.stdout
