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
