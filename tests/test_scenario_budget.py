"""Budgets worked out when a scenario is loaded: processes, memory and disk, value ranges.

The memory tests size their scenarios from the real free space of /dev/shm and of the
run directory's file system, so they exceed it on any machine; nothing is allocated.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from ipcviz.scenario import resources
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.signals import PARENT_SIGNALS, SIGRTMAX, SIGRTMIN, signal_name

from .conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "scenarios").glob("*.yaml"))
MIB32 = 4 * 1024 * 1024  # int64 elements in the largest array (32 MiB)


def _refusal(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text.encode(), "s.yaml")
    return info.value.lines


def test_child_cap_is_the_runtimes_spawn_rows() -> None:
    from ipcviz.telemetry.table import SPAWN_ROWS

    assert resources.CHILD_CAP == SPAWN_ROWS


def test_12_spawners_of_64_children_are_780_processes() -> None:
    lines = _refusal("workers:\n  p:\n    count: 12\n    steps:\n"
                     "      - repeat: {times: 64, steps: [{spawn: kid}]}\n"
                     "  kid: {spawned: true}\n")
    assert lines == ["s.yaml:2:3: workers: up to 780 processes at once; the limit is 512 "
                     "(12 x (1 + 64 spawned by p); a worker spawns at most 64 children, "
                     "counted in full when it loops or restarts)"]


def test_just_under_the_process_limit_loads() -> None:
    """7 x (1 + 64) = 455 and 510 + 1 + 1: the count is exact, not rounded up."""
    load_text(b"workers:\n  p:\n    count: 7\n    loop: true\n    steps: [{spawn: kid}]\n"
              b"  kid: {spawned: true}\n", "s.yaml")
    load_text(b"workers:\n  many: {count: 510}\n  p:\n    steps: [{spawn: kid}]\n"
              b"  kid: {spawned: true}\n", "s.yaml")
    lines = _refusal("workers:\n  many: {count: 510}\n  p:\n    steps: [{spawn: kid}, "
                     "{spawn: kid}]\n  kid: {spawned: true}\n")
    assert "up to 513 processes at once" in lines[0]


def test_nested_spawns_multiply() -> None:
    lines = _refusal("workers:\n  p:\n    steps: [{repeat: {times: 8, steps: [{spawn: mid}]}}]\n"
                     "  mid:\n    spawned: true\n    loop: true\n    steps: [{spawn: leaf}]\n"
                     "  leaf: {spawned: true}\n")
    assert "up to 521 processes at once" in lines[0]  # 1 + 8 x (1 + 64)


def test_bundled_scenarios_fit_every_budget() -> None:
    for path in BUNDLED:
        load_text(path.read_bytes(), str(path))


def _shm_free() -> int:
    free = resources.free_bytes("/dev/shm")
    if free is None:
        pytest.skip("no /dev/shm on this machine")
    return free


def test_arrays_larger_than_free_dev_shm_are_refused_with_the_figures(
        tmp_path, nothing_left_behind) -> None:
    """Sized from the real statvfs of /dev/shm; `run` refuses it and creates nothing."""
    free = _shm_free()
    arrays = free // (MIB32 * 8) + 2
    text = "channels:\n" + "".join(
        f"  a{i}: {{kind: shared_array, shape: {MIB32}}}\n" for i in range(arrays))
    path = tmp_path / "big.yaml"
    path.write_text(text + "workers:\n  w: {}\n")
    result = run_cli("run", str(path), "--headless", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    need = resources.format_bytes(arrays * MIB32 * 8)
    assert line.startswith(f"{path}:2:7: channels.a0: needs {need} in /dev/shm")
    assert " free (a0 32.0 MiB, a1 32.0 MiB, a2 32.0 MiB and " in line
    assert list(Path(os.environ["IPCVIZ_RUN_ROOT"]).iterdir()) == []


def test_one_array_just_over_free_dev_shm_counts_the_margin(monkeypatch) -> None:
    """The margin (5 % of the need + 256 KiB): a need that fits only without it is refused."""
    text = f"channels:\n  a: {{kind: shared_array, shape: {MIB32}}}\nworkers:\n  w: {{}}\n"
    monkeypatch.setattr(resources, "free_bytes", lambda path: 33 * 1024 * 1024)
    assert _refusal(text) == ["s.yaml:2:6: channels.a: needs 32.0 MiB in /dev/shm, 33.0 MiB "
                              "free (a 32.0 MiB; 1.9 MiB is kept spare)"]
    monkeypatch.setattr(resources, "free_bytes", lambda path: 34 * 1024 * 1024)
    load_text(text.encode(), "s.yaml")


def test_mmap_files_larger_than_the_run_directorys_free_space(tmp_path) -> None:
    root = resources.run_root_filesystem()
    assert root is not None and Path(os.environ["IPCVIZ_RUN_ROOT"]).is_relative_to(root)
    free = resources.free_bytes(root)
    size = 64 * 1024 * 1024
    count = free // size + 2
    text = "channels:\n" + "".join(f"  m{i}: {{kind: mmap, size: {size}}}\n"
                                   for i in range(count))
    lines = _refusal(text + "workers:\n  w: {}\n")
    assert len(lines) == 1
    assert f"channels.m0: needs {resources.format_bytes(count * size)} in " in lines[0]
    assert "file system" in lines[0] or "/dev/shm" in lines[0]


def test_bounded_queue_spool_counts_capacity_times_message(monkeypatch) -> None:
    monkeypatch.setattr(resources, "free_bytes", lambda path: 100 * 1024 * 1024)
    text = ("channels:\n  q: {kind: queue, capacity: 8}\nworkers:\n  w:\n    loop: true\n"
            "    steps: [{send: {to: q, size: 16777216}}]\n")
    lines = _refusal(text)  # 8 x 16 MiB > 100 MiB
    assert "channels.q: needs 128.0 MiB in " in lines[0]
    load_text(text.replace("capacity: 8", "capacity: 4").encode(), "s.yaml")


def test_unbounded_queue_with_a_finite_sender_is_counted_exactly(monkeypatch) -> None:
    monkeypatch.setattr(resources, "free_bytes", lambda path: 100 * 1024 * 1024)
    text = ("channels:\n  q: {kind: queue}\nworkers:\n  w:\n    count: 2\n    loop: 4\n"
            "    steps: [{send: {to: q, size: 16777216}}]\n")
    assert "channels.q: needs 128.0 MiB in " in _refusal(text)[0]
    load_text(text.replace("loop: 4", "loop: 2").encode(), "s.yaml")


def test_message_queues_beyond_rlimit_msgqueue_are_refused() -> None:
    import resource

    limit = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0]
    if limit == resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_MSGQUEUE is unlimited here")
    capacity = math.ceil(limit / (1024 + 96)) + 1
    lines = _refusal(f"channels:\n  m: {{kind: mqueue, capacity: {capacity}}}\n"
                     "workers:\n  w: {}\n")
    assert "channels.m: message queues need " in lines[0]
    assert "RLIMIT_MSGQUEUE allows" in lines[0]


@pytest.mark.parametrize("sig", sorted(PARENT_SIGNALS), ids=signal_name)
def test_every_parent_signal_is_accepted(sig: int) -> None:
    load_text(f"workers:\n  a:\n    steps:\n      - signal: {{to: parent, sig: {sig}}}\n"
              .encode(), "s.yaml")


def test_signals_outside_parent_signals_are_refused_for_parent() -> None:
    for sig in [n for n in range(1, 32) if n not in PARENT_SIGNALS and n not in (32, 33)]:
        try:
            name = signal_name(sig)
        except ValueError:
            continue
        if name.startswith("SIG") and name[3:].isdigit():
            continue
        lines = _refusal(f"workers:\n  a:\n    steps:\n      - signal: {{to: parent, sig: {sig}}}\n")
        assert lines[0].startswith(f"s.yaml:4:35: workers.a.steps[0].signal.sig: {name} would "
                                   "stop or end the runtime; parent accepts SIGUSR1, SIGUSR2,")
    assert SIGRTMIN in PARENT_SIGNALS and SIGRTMAX in PARENT_SIGNALS


@pytest.mark.parametrize("dtype,value,ok", [
    ("uint8", 255, True), ("uint8", 256, False), ("uint8", -1, False),
    ("int8", -128, True), ("int8", 127.0, True), ("int32", 2.5, False),
    ("int64", 9223372036854775807, True), ("int64", 1e30, False),
    ("uint64", 18446744073709551615, True), ("float32", 3.4e38, True),
    ("float32", 3.5e38, False), ("float64", 1e308, True),
])
def test_dtype_problem(dtype: str, value: float, ok: bool) -> None:
    from ipcviz.scenario.validate import dtype_problem

    assert (dtype_problem(dtype, value) is None) == ok


def test_sum_and_initial_sum_are_array_expect_keys() -> None:
    load_text(b"channels:\n  arr: {kind: shared_array, shape: 4}\nworkers:\n  a: {}\n"
              b"expect:\n  - {channel: arr, sum: 0, initial_sum: '>=0'}\n", "s.yaml")


_MUTANTS: list[object] = [["a"], {"x": 1}, True, None, float("nan"), 10**30, "nan"]


def test_every_field_of_a_scenario_mutated_gives_lines_not_tracebacks() -> None:
    """bench/fuzz_validate.py on one scenario that uses every kind: any other type in any
    field is refused with ScenarioError (the CLI's exit 2), never another exception."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import fuzz_validate
    finally:
        sys.path.pop(0)
    fuzz_validate.MUTANTS[:] = _MUTANTS
    count = 0
    for _, path, text in fuzz_validate.mutants([ROOT / "tests" / "scenarios" / "every_kind.yaml"]):
        count += 1
        try:
            load_text(text.encode(), "m.yaml")
        except ScenarioError as exc:
            assert all(line.startswith("m.yaml:") for line in exc.lines), (path, exc.lines)
    assert count > 800


def test_expect_sum_is_checked_against_the_real_array(scenario_file, nothing_left_behind) -> None:
    text = ("channels:\n  arr: {kind: shared_array, shape: 4}\nworkers:\n  a:\n    steps:\n"
            "      - increment: {array: arr, index: 1, times: 25}\n"
            "expect:\n  - {channel: arr, sum: 25}\n")
    good = run_cli("run", str(scenario_file(text)), "--headless", "--json", "--check")
    assert good.returncode == 0, good.stderr
    bad = run_cli("run", str(scenario_file(text.replace("sum: 25", "sum: 26"), "b.yaml")),
                  "--headless", "--json", "--check")
    assert bad.returncode == 1


def _pipes(count: int) -> str:
    channels = "".join(f"  p{i}: {{kind: pipe}}\n" for i in range(count))
    steps = "".join(f"      - write: {{to: p{i}, data: x}}\n" for i in range(count))
    return f"duration: 1\nchannels:\n{channels}workers:\n  w:\n    steps:\n{steps}"


def test_a_thousand_pipes_are_refused_at_load_not_a_traceback(tmp_path: Path,
                                                              nothing_left_behind) -> None:
    """1,000 pipes hold 2,000 descriptors in the runtime, past select()'s 1,024: before the
    descriptor budget `run --headless` died with "ValueError: filedescriptor out of range
    in select()" (exit 1, a traceback). Now one line naming the first channel over it."""
    path = tmp_path / "pipes.yaml"
    path.write_text(_pipes(1000))
    result = run_cli("run", str(path), "--headless")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == [
        f"{path}:387:9: channels.p384: the channels hold 2000 descriptors in the runtime "
        "(2 per pipe or FIFO, 1 per socket or mqueue); the limit is 768"]
    assert result.stdout == ""


def test_the_descriptor_budget_itself_loads() -> None:
    load_text(_pipes(384).encode(), "s.yaml")


def test_a_channels_room_is_what_its_kinds_class_says(monkeypatch) -> None:
    """The budget asks each kind's class (`Channel.room`), knowing no kind itself: a
    window that said it takes all of /dev/shm is refused for /dev/shm, with the
    traffic its steps put through it (one 4 KiB read, no sends) handed to it."""
    from ipcviz.channels.base import Room, Traffic
    from ipcviz.channels.window import WindowChannel

    seen = []

    def room(cls: type, spec: object, traffic: Traffic) -> Room:
        seen.append((spec.kind, traffic.sends(), traffic.appended(), traffic.largest_message()))
        return Room(shm=float(1 << 60))
    monkeypatch.setattr(WindowChannel, "room", classmethod(room))
    lines = _refusal("channels:\n  w: {kind: window, file_size: 1073741824, offset: 0, "
                     "length: 1048576}\nworkers:\n  r:\n    steps: [{read: {from: w, "
                     "bytes: 4096}}]\n")
    assert len(lines) == 1 and "channels.w: needs 1048576.0 TiB in /dev/shm" in lines[0], lines
    assert seen == [("window", 0, 0, 0)]
