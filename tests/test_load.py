"""128 workers for 10 s: the invariants hold and the run shuts down cleanly and fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_scenario


@pytest.mark.slow
def test_128_workers_for_10_seconds(nothing_left_behind) -> None:
    summary = run_scenario(Path(__file__).parent / "scenarios" / "load_128.yaml", timeout=120)
    assert len(summary["workers"]) == 128
    p, q = summary["channels"]["p"], summary["channels"]["q"]
    assert p["bytes_written"] == p["bytes_read"] + p["buffered"] > 0
    assert q["messages_sent"] == q["messages_received"] + q["depth"] > 0
    assert q["max_depth"] <= 10
    per_worker_written = sum(w["bytes_written"].get("p", 0) for w in summary["workers"].values())
    assert per_worker_written == p["bytes_written"]
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
    assert summary["cleanup_s"] < 2.0


@pytest.mark.slow
def test_256_workers_headless(scenario_file, nothing_left_behind) -> None:
    """The scale target: 256 processes at once, every count still balancing."""
    path = scenario_file("""
duration: 3
channels:
  p: {kind: pipe}
workers:
  writer: {count: 128, loop: true, steps: [{write: {to: p, size: 64}}, {sleep: 0.02}]}
  reader: {count: 128, loop: true, steps: [{read: {from: p, bytes: 64}}]}
""")
    summary = run_scenario(path, timeout=120)
    assert len(summary["workers"]) == 256
    assert all(w["exit"] is None and w["pid"] for w in summary["workers"].values())
    p = summary["channels"]["p"]
    assert p["bytes_written"] == p["bytes_read"] + p["buffered"] > 128 * 64
    assert sum(w["bytes_read"].get("p", 0) for w in summary["workers"].values()) == p["bytes_read"]
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
