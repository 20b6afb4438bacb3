"""Pictures of the app from recorded real runs (fixed data: no processes, no clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipcviz.tui.app import make_app
from ipcviz.tui.source import FixedSource, read_recording, snapshots_until

RECORDINGS = Path(__file__).parent / "recordings"
SIZES = [pytest.param((120, 40), id="wide"), pytest.param((80, 24), id="narrow")]


def recorded_app(name: str, at: float):
    snaps = snapshots_until(read_recording(str(RECORDINGS / f"{name}.jsonl")), at)
    assert snaps, f"no frames before {at} s in {name}"
    return make_app(source=FixedSource(snaps))


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES)
def test_signals_panel_blocked_and_pending(snap_compare, size) -> None:
    """Standard signals pending while blocked: 0/50 received, the reason in words."""
    assert snap_compare(recorded_app("signals_coalescing", 2.0), terminal_size=size,
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_signals_panel_after_unblock(snap_compare, size) -> None:
    """After the unblock: 1/50 (coalesced) against 50/50 (queued real-time)."""
    assert snap_compare(recorded_app("signals_coalescing", 4.0), terminal_size=size,
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_zombies_in_workers_table(snap_compare, size) -> None:
    assert snap_compare(recorded_app("sigchld_zombies", 3.5), terminal_size=size,
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_pipes_panel_buffer(snap_compare, size) -> None:
    assert snap_compare(recorded_app("pipe_oneway", 1.5), terminal_size=size, run_before=settle)


def test_signal_handlers_after_sigkill(snap_compare) -> None:
    assert snap_compare(recorded_app("signals_handlers", 4.3), terminal_size=(120, 40),
                        run_before=settle)


def test_help_screen(snap_compare) -> None:
    assert snap_compare(recorded_app("signals_handlers", 1.0), press=["question_mark"],
                        terminal_size=(120, 40), run_before=settle)


def test_signal_picker(snap_compare) -> None:
    assert snap_compare(recorded_app("signals_handlers", 1.0), press=["S", "down", "down"],
                        terminal_size=(120, 40), run_before=settle)


def test_scenario_picker(snap_compare) -> None:
    assert snap_compare(make_app(source=None), terminal_size=(120, 40), run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_shared_memory_lost_updates(snap_compare, size) -> None:
    """The lock switched off at 0.5 s: lost updates climbing."""
    assert snap_compare(recorded_app("race_lock_off", 1.5), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_locks_deadlock_named(snap_compare, size) -> None:
    assert snap_compare(recorded_app("deadlock", 2.0), terminal_size=size, run_before=settle)


def test_locks_held_by_dead_worker(snap_compare) -> None:
    assert snap_compare(recorded_app("deadlock", 4.0), terminal_size=(120, 40), run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_shared_array_grid(snap_compare, size) -> None:
    assert snap_compare(recorded_app("shm_signal_notify", 1.5), terminal_size=size,
                        run_before=settle)


def test_mmap_bytes(snap_compare) -> None:
    assert snap_compare(recorded_app("mmap_file", 1.5), terminal_size=(120, 40), run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_pipes_panel_writer_blocked(snap_compare, size) -> None:
    assert snap_compare(recorded_app("pipe_backpressure", 2.0), terminal_size=size,
                        run_before=settle)


def test_pipes_panel_after_sigpipe(snap_compare) -> None:
    assert snap_compare(recorded_app("pipe_backpressure", 4.0), terminal_size=(120, 40),
                        run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_queues_panel_three_capacities(snap_compare, size) -> None:
    assert snap_compare(recorded_app("queue_capacity", 1.5), terminal_size=size,
                        run_before=settle)


def test_queues_panel_sender_killed(snap_compare) -> None:
    assert snap_compare(recorded_app("mqueue_bounded", 2.5), terminal_size=(120, 40),
                        run_before=settle)


def test_sockets(snap_compare) -> None:
    assert snap_compare(recorded_app("socket_echo", 0.8), terminal_size=(120, 40),
                        run_before=settle)


def test_record_then_replay_gives_the_same_snapshots(tmp_path, nothing_left_behind) -> None:
    """`ipcviz record` of a real run, read back: every Snapshot equals what was recorded,
    and the replay source delivers exactly those, in order."""
    import json
    import threading

    from ipcviz.telemetry.snapshot import Snapshot
    from ipcviz.tui.replay import ReplaySource

    from .conftest import SCENARIOS, run_cli

    out = tmp_path / "run.jsonl"
    result = run_cli("record", str(SCENARIOS / "signals_coalescing.yaml"), "-o", str(out),
                     "--duration", "2")
    assert result.returncode == 0, result.stderr
    raw = [json.loads(line) for line in out.read_text().splitlines()]
    recorded = read_recording(str(out))
    assert len(recorded) == len(raw) > 10
    for data, snap in zip(raw, recorded):
        assert Snapshot.from_dict(data) == snap
        assert json.loads(json.dumps(snap.to_dict())) == data  # the same numbers, field by field
    replayed: list[Snapshot] = []
    done = threading.Event()

    def collect(snap: Snapshot) -> None:
        replayed.append(snap)
        if len(replayed) == len(recorded):
            done.set()

    source = ReplaySource(recorded, speed=50)
    source.start(collect, lambda lines: None)
    assert done.wait(10)
    source.stop()
    import dataclasses

    assert [dataclasses.replace(s, replay=None) for s in replayed] == recorded
    assert [s.replay["frame"] for s in replayed] == list(range(1, len(recorded) + 1))
    assert replayed[-1].replay["ended"] and not replayed[-2].replay["ended"]
    final = recorded[-1].worker("realtime")
    assert final.signals_sent_to == {"SIGRTMIN+1": 50}


def test_heat_map_value_under_the_mouse(snap_compare) -> None:
    """A 64x64 array as a heat map; the mouse on the hot cell shows its exact value."""
    from ipcviz.tui.widgets.shm import SharedMemoryPanel

    async def hover(pilot) -> None:
        await settle(pilot)
        # element [10, 40] is in map row 10 // 8 = 1, column 40; the map starts two lines
        # below the panel's first content line (after the title border), two cells in
        await pilot.hover(SharedMemoryPanel, offset=(2 + 40, 1 + 2 + 1))
        await settle(pilot)

    assert snap_compare(recorded_app("heat", 1.5), terminal_size=(120, 40), run_before=hover)


def held_app(name: str, at: float, mode: str, speed: float, next_ops: dict):
    """A recorded running frame as a held run shows it: the mode, the speed, the run clock
    and each worker's next operation (fixed data, as the sampler fills them in)."""
    import dataclasses

    from ipcviz.telemetry.snapshot import NextOp

    snaps = snapshots_until(read_recording(str(RECORDINGS / f"{name}.jsonl")), at)
    last = snaps[-1]
    workers = tuple(dataclasses.replace(w, next_op=NextOp(*next_ops[w.name]))
                    if w.name in next_ops else w for w in last.workers)
    held = dataclasses.replace(last, mode=mode, speed=speed, run_time=0.2, workers=workers)
    return make_app(source=FixedSource(snaps[:-1] + [held]))


@pytest.mark.parametrize("size", SIZES)
def test_paused_header_and_next_column(snap_compare, size) -> None:
    """space: PAUSED in reverse video, the run clock, and each worker's next operation."""
    app = held_app("race_lock_off", 0.3, "pause", 1.0, {
        "adder.0": ("load", "counter", "load counter[0]"),
        "adder.1": ("store", "counter", "store counter[0]")})
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_stepping_in_slow_motion(snap_compare) -> None:
    """n at speed 1/4: the header says so; the next column words a write."""
    app = held_app("pipe_oneway", 1.5, "step", 0.25, {
        "producer": ("write", "p", "write 12 B to p"),
        "consumer": ("read", "p", "read up to 64 B from p")})
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_programs_panel(snap_compare, size) -> None:
    """A C program (exec:) as the kernel shows it: its child, the pipe between them with
    1,000 bytes buffered and who holds which end; `?` for what it received."""
    assert snap_compare(recorded_app("program_watch", 1.5), terminal_size=size,
                        run_before=settle)


def test_replay_header_paused_and_at_the_end(snap_compare) -> None:
    """The header of a replay: REPLAY, PAUSED, the pace and where in the recording; the
    last frame says "end of recording" (fixed data: the frames of a recording)."""
    import dataclasses

    snaps = snapshots_until(read_recording(str(RECORDINGS / "signals_coalescing.jsonl")), 2.0)
    info = {"position": snaps[-1].elapsed, "length": 4.1, "frame": len(snaps), "frames": 41,
            "speed": 2.0, "paused": True, "ended": False, "rebuild": False}
    paused = dataclasses.replace(snaps[-1], replay=info)
    ended = dataclasses.replace(snaps[-1], replay=dict(info, paused=False, ended=True,
                                                       speed=1.0))
    app_paused = make_app(source=FixedSource(snaps[:-1] + [paused]))
    assert snap_compare(app_paused, terminal_size=(120, 40), run_before=settle)
    app_ended = make_app(source=FixedSource(snaps[:-1] + [ended]))
    assert snap_compare(app_ended, terminal_size=(80, 24), run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_speed_race_panel(snap_compare, size) -> None:
    """Five mechanisms at once, ranked by bytes delivered: shared memory first."""
    assert snap_compare(recorded_app("speed_race", 2.5), terminal_size=size, run_before=settle)
