"""Malformed scenarios: each is rejected with the right line, column and field, exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ipcviz.scenario.load import ScenarioError, load_scenario

from .conftest import run_cli

BAD = Path(__file__).parent / "bad_scenarios"
SPECIAL = {
    "empty.yaml": "1:1: empty file",
    "latin1.yaml": "3:11: not UTF-8 text",
    "binary.yaml": "1:1: this is a binary file, not YAML text",
}


def _expected(path: Path) -> str:
    if path.name in SPECIAL:
        return SPECIAL[path.name]
    first = path.read_text(errors="replace").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} has no '# expect:' line"
    return first[len("# expect: "):]


BAD_FILES = sorted(BAD.glob("*.yaml"))


def test_corpus_is_large_enough() -> None:
    assert len(BAD_FILES) >= 120


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_scenario_rejected_with_position(path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    expected = f"{path}:{_expected(path)}"
    assert any(line.startswith(expected) for line in info.value.lines), (
        f"wanted a line starting {expected!r}, got {info.value.lines}")


def test_cli_validate_exits_2_with_one_line_and_no_traceback() -> None:
    result = run_cli("validate", str(BAD / "unknown_channel.yaml"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{BAD / 'unknown_channel.yaml'}:7:21: workers.a.steps[0].write.to: "
                     "unknown channel 'dwn' (channels: up)"]
    assert "Traceback" not in result.stderr


def test_cli_run_bad_file_creates_nothing(nothing_left_behind: None) -> None:
    result = run_cli("run", str(BAD / "wrong_kind_step.yaml"), "--headless", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "'send' does not work on pipe 'up'" in result.stderr


def test_cli_launch_bad_file_says_why_before_any_screen(nothing_left_behind: None) -> None:
    """The runtime process checks the file while the UI imports; its error ends the launch
    with the same one line, before the app takes the terminal."""
    result = run_cli("launch", str(BAD / "unknown_channel.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{BAD / 'unknown_channel.yaml'}:7:21: workers.a.steps[0].write.to: "
        "unknown channel 'dwn' (channels: up)"]
    missing = run_cli("launch", "no_such_scenario")
    assert missing.returncode == 2
    assert "neither a file nor a bundled scenario" in missing.stderr


def test_several_problems_one_line_each() -> None:
    text = (b"channels:\n  up: {kind: pipe}\nworkers:\n  a:\n    steps:\n"
            b"      - write: {to: nope, data: x}\n      - read: {from: nah}\n")
    from ipcviz.scenario.load import load_text

    with pytest.raises(ScenarioError) as info:
        load_text(text, "f.yaml")
    assert [line.split(": ")[0] for line in info.value.lines] == ["f.yaml:6:21", "f.yaml:7:22"]


def test_kernel_refusal_at_start_is_one_line_and_leaves_nothing(scenario_file, tmp_path,
                                                                   nothing_left_behind) -> None:
    """A Unix socket path longer than the kernel's 108 bytes cannot be bound."""
    import os

    path = scenario_file("channels:\n  s: {kind: socket, server: srv}\nworkers:\n"
                         "  srv:\n    steps:\n      - echo: {on: s}\n")
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    env_root = os.environ["IPCVIZ_RUN_ROOT"]
    os.environ["IPCVIZ_RUN_ROOT"] = str(deep)
    try:
        result = run_cli("run", str(path), "--headless", "--json")
    finally:
        os.environ["IPCVIZ_RUN_ROOT"] = env_root
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"{path}: cannot start: AF_UNIX path too long"]
    assert list(deep.iterdir()) == []


def test_whole_corpus_and_a_50_mb_file_through_the_cli(tmp_path, nothing_left_behind) -> None:
    """Every bad file is rejected (exit 2, no traceback) in one bounded run, nothing created."""
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(b"workers:\n  a: {}\n" + b"# padding\n" * 5_000_000)
    files = [str(p) for p in BAD_FILES] + [str(big)]
    result = run_cli("validate", *files, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{big}:1:1: file is 50,000,017 bytes; scenarios are limited to 1,000,000 bytes" \
        in result.stderr
    rejected = [line.split(":")[0] for line in result.stderr.splitlines()]
    assert sorted(rejected) == sorted(files), "each bad file gives exactly one line"
    assert result.stdout == ""


def test_unknown_name_says_where_to_look(nothing_left_behind) -> None:
    result = run_cli("run", "no_such_lesson", "--headless")
    assert result.returncode == 2
    assert result.stderr.strip() == ("no_such_lesson: cannot read: No such file or directory "
                                     "(neither a file nor a bundled scenario; `ipcviz list` "
                                     "shows those)")


def test_each_bad_file_gives_exactly_one_line() -> None:
    """One problem, one line: no second line from a union member or an internal path."""
    for path in BAD_FILES:
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert len(info.value.lines) == 1, (path.name, info.value.lines)
        assert "constrained-" not in info.value.lines[0]


def test_validate_prints_control_characters_escaped() -> None:
    """An ANSI escape or RTL override written in the file never reaches the terminal raw."""
    files = [BAD / "ctrl_ansi_worker_name.yaml", BAD / "ctrl_expect_worker.yaml",
             BAD / "ctrl_rtl_name_pattern.yaml"]
    result = run_cli("validate", *map(str, files))
    assert result.returncode == 2
    assert "workers.a\\x1b[31m: names use" in result.stderr
    assert "unknown worker 'a\\x1b]0;pwned\\x07'" in result.stderr
    assert not any(ch in result.stderr for ch in "\x1b\x07\u202e")
    assert len(result.stderr.splitlines()) == 3


def test_run_prints_the_scenario_name_escaped(scenario_file, nothing_left_behind) -> None:
    path = scenario_file('name: "evil\\e[2J\\u202eman\\0"\nduration: 0.3\n'
                         "workers:\n  a: {steps: [{sleep: 0.05}]}\n")
    result = run_cli("run", str(path), "--headless")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("evil\\x1b[2J\\u202eman\\x00  (")
    assert not any(ch in result.stdout + result.stderr for ch in "\x1b\u202e\x00")
    as_json = run_cli("run", str(path), "--headless", "--json")
    assert json.loads(as_json.stdout)["scenario"] == "evil\x1b[2J\u202eman\x00"
    assert not any(ch in as_json.stdout + as_json.stderr for ch in "\x1b\u202e\x00")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e9"])
def test_cli_duration_must_be_finite_and_in_range(value: str, nothing_left_behind) -> None:
    """`--duration nan` compared false with `<= 0` and ran forever."""
    result = run_cli("run", "pipe_oneway", "--headless", "--duration", value)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"--duration: {float(value)} is not a number of "
                                            "seconds in (0, 86400]")


def test_a_trigger_key_no_key_press_can_make_is_refused(scenario_file) -> None:
    """The help screen draws each trigger's key; a key holding ESC sequences (or NUL, a
    right-to-left override, spaces) can never be pressed and reached the terminal raw
    through it (Rich text keeps ESC). One line, escaped, exit 2."""
    path = scenario_file('workers:\n  w: {handlers: {SIGUSR1: count}}\ntriggers:\n'
                         '  - {key: "\\e]0;pwned\\a\\e[2J", signal: {to: w, sig: SIGUSR1}}\n'
                         '  - {key: "x\\u202e", signal: {to: w, sig: SIGUSR1}}\n')
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:4:11: triggers[0].key: key '\\x1b]0;pwned\\x07\\x1b[2J' has control, format "
        "or space characters: no key press makes it, and the help screen would send them "
        "to the terminal",
        f"{path}:5:11: triggers[1].key: key 'x\\u202e' has control, format or space "
        "characters: no key press makes it, and the help screen would send them to the "
        "terminal"]
    assert not any(ch in result.stderr for ch in "\x1b\x07\u202e")


def test_record_shares_the_headless_prologue(scenario_file, tmp_path,
                                             nothing_left_behind) -> None:
    """`ipcviz record` refuses a bad --duration and a kernel refusal at start exactly as
    `run --headless` does: one line, status 2, no recording file, nothing left behind."""
    import os

    path = scenario_file("channels:\n  s: {kind: socket, server: srv}\nworkers:\n"
                         "  srv:\n    steps:\n      - echo: {on: s}\n")
    out = tmp_path / "rec.jsonl"
    result = run_cli("record", str(path), "-o", str(out), "--duration", "nan")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "--duration: nan is not a number of seconds in (0, 86400]"]
    assert not out.exists()
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    env_root = os.environ["IPCVIZ_RUN_ROOT"]
    os.environ["IPCVIZ_RUN_ROOT"] = str(deep)
    try:
        result = run_cli("record", str(path), "-o", str(out))
    finally:
        os.environ["IPCVIZ_RUN_ROOT"] = env_root
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"{path}: cannot start: AF_UNIX path too long"]
    assert not out.exists()
    assert list(deep.iterdir()) == []


def test_a_device_or_a_fifo_is_refused_without_reading_it(tmp_path) -> None:
    """`validate /dev/zero` grew to gigabytes (its size is 0, its end never comes) and a
    FIFO as a scenario waited forever for a writer: only a regular file is read."""
    fifo = tmp_path / "lesson.yaml"
    os.mkfifo(fifo)
    try:
        for path in ("/dev/zero", str(fifo)):
            result = run_cli("validate", path, timeout=20)
            assert result.returncode == 2
            assert result.stderr.splitlines() == [f"{path}: not a regular file; a scenario "
                                                  "is a YAML file"]
    finally:
        fifo.unlink()
