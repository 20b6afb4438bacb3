"""Pipes for real: exact byte accounting from real runs, EOF and SIGPIPE from the kernel."""

from __future__ import annotations

from .conftest import SCENARIOS, run_cli, run_scenario

PIPE_SCENARIOS = ["pipe_two_way.yaml", "pipe_oneway.yaml"]


def _assert_pipe_invariants(summary: dict) -> None:
    for name, ch in summary["channels"].items():
        if ch["kind"] == "pipe":
            assert ch["bytes_written"] == ch["bytes_read"] + ch["buffered"], name
            assert 0 <= ch["buffered"] <= ch["capacity"], name
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_pipe_two_way_check_passes_with_exact_counts(nothing_left_behind) -> None:
    result = run_cli("run", str(SCENARIOS / "pipe_two_way.yaml"), "--headless", "--json",
                     "--check")
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    _assert_pipe_invariants(summary)
    asker, answerer = summary["workers"]["asker"], summary["workers"]["answerer"]
    # 20 loops of "Who are you?" (12 bytes) and "Thank you for your message" (26 bytes)
    assert asker["bytes_written"] == {"ask": 20 * 12}
    assert answerer["bytes_read"] == {"ask": 20 * 12}
    assert answerer["bytes_written"] == {"answer": 20 * 26}
    assert asker["bytes_read"] == {"answer": 20 * 26}
    assert all(r["ok"] for r in summary["expect"])


def test_pipe_oneway_bytes_wait_in_the_buffer(nothing_left_behind) -> None:
    summary = run_scenario(SCENARIOS / "pipe_oneway.yaml")
    _assert_pipe_invariants(summary)
    p = summary["channels"]["p"]
    assert p["bytes_written"] == 100 * 1024
    assert p["max_buffered"] > 16384  # the buffer visibly fills
    assert summary["workers"]["consumer"]["exit"] == 0  # ended at EOF, after reading all


def test_data_left_in_buffer_is_counted_by_the_kernel(scenario_file, nothing_left_behind) -> None:
    path = scenario_file("""
duration: 1
channels:
  p: {kind: pipe}
workers:
  writer:
    steps:
      - write: {to: p, size: 5000}
      - sleep: 5
  reader:
    steps:
      - read: {from: p, bytes: 1234}
      - sleep: 5
""")
    summary = run_scenario(path)
    p = summary["channels"]["p"]
    assert (p["bytes_written"], p["bytes_read"], p["buffered"]) == (5000, 1234, 3766)


def test_full_pipe_blocks_writer_then_sigpipe_when_reader_dies(scenario_file,
                                                               nothing_left_behind) -> None:
    path = scenario_file("""
duration: 3
channels:
  p: {kind: pipe, capacity: 4096}
workers:
  writer:
    loop: true
    steps:
      - write: {to: p, size: 512}
  reader:
    steps:
      - sleep: 10
      - read: {from: p}
timeline:
  - {at: 1.0, kill: reader}
""")
    summary = run_scenario(path)
    writer = summary["workers"]["writer"]
    p = summary["channels"]["p"]
    assert summary["workers"]["reader"]["exit"] == "SIGKILL"
    assert writer["exit"] == "SIGPIPE"
    assert p["max_buffered"] == p["capacity"] == 4096
    assert p["bytes_written"] == 4096  # exactly what fitted before the writer blocked
