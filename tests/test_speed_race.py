"""The speed race (`compare:`): real bytes through five mechanisms at once, ranked by what
arrived, with the ranking's arithmetic and its one-line errors."""

from __future__ import annotations

import pytest

from ipcviz.runtime.channel_views import rank_compared
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.telemetry.snapshot import ChannelView

from .conftest import SCENARIOS, run_scenario

MIB = 1 << 20


def test_speed_race_ranks_what_really_arrived(nothing_left_behind) -> None:
    """Every compared channel delivered bytes; `moved` is exactly what its readers got
    (bytes read, or bytes received from the queue: whole 8,184-byte messages; whole
    1 MiB blocks from the shared mapping), ranks follow `moved`, and shared memory, which
    copies nothing through the kernel, comes first (the lesson; it wins by several times
    on this 2-core machine, see the note in the scenario's question)."""
    summary = run_scenario(SCENARIOS / "speed_race.yaml", "--duration", "3", "--check")
    channels = summary["channels"]
    raced = {name: channels[name] for name in ("pipe", "unix", "tcp", "mqueue", "shm")}
    for name, entry in raced.items():
        assert entry["moved"] > 0, name
    for name in ("pipe", "unix", "tcp", "shm"):
        assert raced[name]["moved"] == raced[name]["bytes_read"]
    assert raced["mqueue"]["moved"] == raced["mqueue"]["bytes_received"]
    assert raced["mqueue"]["bytes_received"] == 8184 * raced["mqueue"]["messages_received"]
    assert raced["shm"]["moved"] % MIB == 0
    order = sorted(raced, key=lambda n: -raced[n]["moved"])
    assert [raced[n]["rank"] for n in order] == [1, 2, 3, 4, 5]
    assert order[0] == "shm"
    for entry in raced.values():
        assert entry["mb_per_s"] == pytest.approx(entry["moved"] / 1e6 / 3, rel=0.2)
    assert "rank" not in channels["empty"] and "rank" not in channels["full"]
    # the two semaphores pass the turn: nobody "holds" them, and the summary says so
    assert channels["empty"]["handoff"] is True and channels["empty"]["holders"] == []
    assert [r for r in summary["expect"] if not r["ok"]] == []
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


from ipcviz.channels.state import Race  # noqa: E402


def _view(name: str, kind: str, **data: int) -> ChannelView:
    return ChannelView.of(name, kind, dict(data), (), ())


def test_rank_counts_bytes_that_arrived_and_ties_share_a_place() -> None:
    channels = (_view("p", "pipe", bytes_written=900, bytes_read=500),
                _view("q", "mqueue", bytes_sent=900, bytes_received=500),
                _view("m", "mmap", bytes_written=4000, bytes_read=2000),
                _view("f", "file", bytes_written=10, bytes_read=0),
                _view("other", "pipe", bytes_read=10 ** 9))
    channels = rank_compared(channels, ["p", "q", "m", "f"], 2.0)
    got = {c.name: (c.data.get("moved"), c.data.get("rank"), c.data.get("mb_per_s"))
           for c in channels}
    assert got == {"m": (2000, 1, 0.0), "p": (500, 2, 0.0), "q": (500, 2, 0.0),
                   "f": (0, 4, 0.0), "other": (None, None, None)}
    channels = rank_compared(channels, ["m"], 0.0)  # no time yet: no rate, no division
    assert channels[2].data["mb_per_s"] == 0.0
    assert channels[2].state.race == Race(2000, 0.0, 1)


def test_a_rate_is_megabytes_per_second() -> None:
    channels = (_view("p", "pipe", bytes_read=5_000_000),)
    channels = rank_compared(channels, ["p"], 2.0)
    assert channels[0].data["mb_per_s"] == 2.5


@pytest.mark.parametrize("compare, message", [
    ("[nope]", "compare[0]: unknown channel 'nope' (channels: l, p)"),
    ("[l]", "compare[0]: semaphore 'l' moves no bytes to compare"),
    ("[p, p]", "compare[1]: 'p' is already compared"),
    ("p", "compare: Input should be a valid list"),
])
def test_bad_compare_lists_are_one_line_each(compare: str, message: str) -> None:
    text = (f"compare: {compare}\nchannels:\n  l: {{kind: semaphore}}\n  p: {{kind: pipe}}\n"
            "workers:\n  a: {steps: [{write: {to: p, data: x}}]}\n"
            "  b: {steps: [{read: {from: p}}]}\n")
    with pytest.raises(ScenarioError) as err:
        load_text(text.encode(), "f.yaml")
    assert message in str(err.value), str(err.value)
    assert len(str(err.value).splitlines()) == 1, str(err.value)
