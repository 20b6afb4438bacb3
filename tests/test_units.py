"""Pure functions: signal names, masks, formatting, comparisons, YAML positions."""

from __future__ import annotations

import pytest

from ipcviz.format import bar, format_bytes, format_counts, format_duration, format_state
from ipcviz.scenario.refs import parse_comparison
from ipcviz.scenario.yamlpos import YamlError, format_path, load_document
from ipcviz.signals import (
    SIGRTMIN,
    decode_mask,
    default_action,
    is_realtime,
    mask_names,
    parse_signal,
    signal_name,
)
from ipcviz.telemetry.summary import check_expectations


@pytest.mark.parametrize("text, number", [
    ("SIGUSR1", 10), ("usr1", 10), ("SIGTERM", 15), (9, 9), ("9", 9), ("SIGCLD", 17),
    ("SIGRTMIN", SIGRTMIN), ("SIGRTMIN+2", SIGRTMIN + 2), ("SIGRTMAX-1", 63), ("SIGRTMAX", 64),
])
def test_parse_signal(text, number) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("bad", ["SIGFOO", 0, 32, 99, "SIGRTMIN+31", True, 1.5, "SIGRTMIN+x"])
def test_parse_signal_rejects(bad) -> None:
    with pytest.raises(ValueError):
        parse_signal(bad)


def test_signal_names_round_trip() -> None:
    for num in list(range(1, 32)) + list(range(SIGRTMIN, 65)):
        assert parse_signal(signal_name(num)) == num
    assert signal_name(SIGRTMIN + 3) == "SIGRTMIN+3"
    assert signal_name(62) == "SIGRTMAX-2"


def test_default_actions_and_realtime() -> None:
    assert default_action(17) == "ignore"
    assert default_action(19) == "stop"
    assert default_action(11) == "core dump"
    assert default_action(SIGRTMIN + 1) == "terminate"
    assert is_realtime(SIGRTMIN) and not is_realtime(10)


def test_decode_kernel_masks() -> None:
    assert decode_mask("0000000000000200") == [10]
    assert decode_mask(0) == []
    assert mask_names("0000000400006a02") == ["SIGINT", "SIGUSR1", "SIGUSR2", "SIGALRM",
                                              "SIGTERM", "SIGRTMIN+1"]


def test_formatting() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(65536) == "64.0 KiB"
    assert format_duration(7.25) == "7.2 s"
    assert format_duration(125) == "2:05"
    assert format_state("blocked", "write p") == "blocked on write p"
    assert format_state("exited", None, "killed by SIGKILL") == "killed by SIGKILL"
    assert format_state("sleeping", paused=True) == "paused (steps)"
    assert bar(0.5, 4) == "██  "
    assert bar(1.5, 3) == "███"
    assert bar(1 / 16, 2) == "▏ "
    assert format_counts({}) == "-"


@pytest.mark.parametrize("value, parsed", [
    (">=1", (">=", 1)), ("<100", ("<", 100)), ("!=0", ("!=", 0)), (5, ("==", 5)),
    ("SIGKILL", ("==", "SIGKILL")), (" > 2.5", (">", 2.5)), (None, ("==", None)),
])
def test_parse_comparison(value, parsed) -> None:
    assert parse_comparison(value) == parsed


def test_expectations_compare_and_report() -> None:
    summary = {"workers": {"a": {"exit": "SIGKILL", "signals_received": {"SIGUSR1": 3}},
                           "g.0": {"bytes_written": {"p": 5}}, "g.1": {"bytes_written": {"p": 7}}},
               "channels": {"p": {"buffered": 0}}}
    results = check_expectations(summary, [
        {"worker": "a", "exit": "SIGKILL", "signals_received": {"SIGUSR1": ">=3", "SIGINT": 0}},
        {"worker": "g", "bytes_written": {"p": 12}},
        {"channel": "p", "buffered": ">0"},
    ])
    assert [r["ok"] for r in results] == [True, True, True, True, False]
    assert results[-1]["check"] == "p buffered >0"


def test_yaml_positions_and_paths() -> None:
    doc = load_document(b"workers:\n  a:\n    steps:\n      - sleep: 1\n")
    assert doc.position(("workers", "a", "steps", 0, "sleep")) == (4, 16)
    assert doc.position(("workers", "a", "steps", 0, "sleep"), key=True) == (4, 9)
    assert doc.position(("workers", "zzz")) == doc.position(("workers",))
    assert format_path(("workers", "a", "steps", 1, "write", "to")) == "workers.a.steps[1].write.to"


def test_yaml_keeps_on_as_a_word() -> None:
    doc = load_document(b"echo: {on: s, yes: 1}\n")
    assert doc.data == {"echo": {"on": "s", "yes": 1}}


def test_yaml_huge_file_refused_before_parsing() -> None:
    with pytest.raises(YamlError) as info:
        load_document(b"#" * 2_000_000)
    assert "limited to 1,000,000 bytes" in info.value.problems[0].message


def test_find_cycle() -> None:
    from ipcviz.telemetry.deadlock import find_cycle

    assert find_cycle({"b": "lock_a", "a": "lock_b"}, {"lock_a": ["a"], "lock_b": ["b"]}) == (
        "a", "lock_b", "b", "lock_a")
    assert find_cycle({"a": "m"}, {"m": ["a"]}) is None  # waiting on itself is not a cycle
    assert find_cycle({"a": "m"}, {"m": ["b"]}) is None  # b is running: it will release
    three = find_cycle({"x": "s1", "y": "s2", "z": "s3"}, {"s1": ["y"], "s2": ["z"], "s3": ["x"]})
    assert three == ("x", "s1", "y", "s2", "z", "s3")


def test_pictures_keep_leading_blanks_as_position() -> None:
    """PNG converters drop the blanks that open a <text>; they become its x instead."""
    from ipcviz.tui.screenshot import for_converters

    svg = ('<text class="r1" x="12.2" y="20" textLength="61" clip-path="url(#c)">'
           '&#160;&#160;0/0</text><text class="r2" x="80" y="20" textLength="24.4">ab</text>')
    out = for_converters(svg)
    assert 'x="36.6"' in out and 'textLength="36.6"' in out and ">0/0</text>" in out
    assert '<text class="r2" x="80" y="20" textLength="24.4">ab</text>' in out  # untouched


@pytest.mark.parametrize("text,shown", [
    ("plain name", "plain name"),
    ("caf\u00e9 \u2713 \u4e2d", "caf\u00e9 \u2713 \u4e2d"),
    ("a\x00b", "a\\x00b"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("abc\u202edcba", "abc\\u202edcba"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("tab\there", "tab\\x09here"),
    ("line\nbreak", "line\\x0abreak"),
    ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
    ("sep\u2028x", "sep\\u2028x"),
])
def test_escape_control(text: str, shown: str) -> None:
    from ipcviz.format import escape_control

    assert escape_control(text) == shown


def test_escape_control_keeps_newlines_when_asked() -> None:
    from ipcviz.format import escape_control

    assert escape_control("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"
    assert escape_control("a\nb", keep_newlines=True) == "a\nb"


def test_signal_counts_are_read_from_a_table_the_workers_write_meanwhile() -> None:
    """np.nonzero raises when its input changes between its two passes; the sampler reads
    the live table (a screenshot run's runtime died of it: "number of non-zero array
    elements changed during function execution"). A real process writes the cells."""
    import mmap
    import os
    import signal

    import numpy as np

    from ipcviz.runtime.row_signals import RowSignals
    from ipcviz.signals import NSIG
    from ipcviz.telemetry import table as T

    rows, width = 512, T.SIG_SENT + NSIG
    shared = mmap.mmap(-1, rows * width * 8, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    arr = np.frombuffer(shared, dtype=np.int64).reshape(rows, width)
    pid = os.fork()
    if pid == 0:  # a worker counting signals, cell after cell, as fast as it can
        try:
            i = 0
            while True:
                arr[i % rows, T.SIG_RECEIVED + 1 + i % (NSIG - 1)] += 1
                i += 7
        finally:
            os._exit(0)
    signals = RowSignals()
    try:
        for _ in range(200):
            signals.count(arr)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    counted = [signals.received(row) for row in range(rows)]
    assert any(counted) and all(n > 0 for got in counted for n in got.values())
