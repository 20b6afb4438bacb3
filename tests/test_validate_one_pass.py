"""`ipcviz validate` in one pass: schema problems and cross-reference problems (unknown
channel or worker, a step on the wrong kind) together, one line each, sorted by position,
with no line that only follows from another."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipcviz.scenario.load import ScenarioError, load_text

from .conftest import run_cli


def _lines(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text.encode(), "f.yaml")
    return info.value.lines


TWO = """\
channels:
  up: {kind: pipe}
workers:
  a:
    steps:
      - sleep: "x"
  b:
    steps:
      - write: {to: dwn, data: hi}
"""


def test_two_problems_type_error_and_unknown_channel_in_other_worker() -> None:
    assert _lines(TWO) == [
        "f.yaml:6:16: workers.a.steps[0].sleep: Input should be a valid number (got 'x')",
        "f.yaml:9:21: workers.b.steps[0].write.to: unknown channel 'dwn' (channels: up)",
    ]


THREE = """\
channels:
  up: {kind: pipe, capacity: true}
  q: {kind: queue}
workers:
  a:
    steps:
      - receive: {from: up}
      - release: q
  b:
    steps:
      - send: {to: q, data: hi}
timeline:
  - {at: 1, kill: c}
"""


def test_three_problems_channel_option_step_kind_and_timeline_worker() -> None:
    """The broken channel `up` is still declared: the `receive` naming it is not called
    unknown; its kind (pipe) is fine, so the wrong step kind on it is reported in the same
    pass, as a good channel's is."""
    assert _lines(THREE) == [
        "f.yaml:2:30: channels.up.capacity: Input should be a valid integer (got True)",
        "f.yaml:7:25: workers.a.steps[0].receive.from: 'receive' does not work on pipe 'up' "
        "(use write/read; 'receive' is for mqueue, queue, sysv_queue)",
        "f.yaml:8:18: workers.a.steps[1].release: 'release' does not work on queue 'q' "
        "(use send/receive; 'release' is for semaphore)",
        "f.yaml:13:19: timeline[0].kill: unknown worker 'c' (workers: a, b)",
    ]


FIVE = """\
channels:
  up: {kind: pipe}
  lock: {kind: semaphore, value: -1}
workers:
  w:
    count: many
    steps:
      - write: {to: up, data: hi}
      - acquire: lock
  r:
    steps:
      - read: {from: dwn}
      - signal: {to: w.1, sig: SIGUSR1}
      - acquire: up
expect:
  - {worker: w.0, exit: 0}
  - {channel: nope, bytes_read: 1}
"""


def test_five_problems_of_mixed_kinds_in_different_sections() -> None:
    """w's `count` is broken: `w.1` and `w.0` are not called unknown (how many replicas
    there are is not known), nor is `acquire: lock` on the broken semaphore."""
    assert _lines(FIVE) == [
        "f.yaml:3:34: channels.lock.value: Input should be greater than or equal to 0",
        "f.yaml:6:12: workers.w.count: Input should be a valid integer (got 'many')",
        "f.yaml:12:22: workers.r.steps[0].read.from: unknown channel 'dwn' (channels: up, lock)",
        "f.yaml:14:18: workers.r.steps[2].acquire: 'acquire' does not work on pipe 'up' "
        "(use write/read; 'acquire' is for semaphore)",
        "f.yaml:17:15: expect[1].channel: unknown channel 'nope' (channels: up, lock)",
    ]


def test_a_step_with_a_wrong_shape_gives_no_reference_line() -> None:
    """`dwn` is unknown too, but the step's own problem is the one to fix first; the typo
    of a required field does not also say the field is missing."""
    text = ("channels:\n  up: {kind: pipe}\nworkers:\n  a:\n    steps:\n"
            "      - write: {to: dwn, data: 5}\n"
            "      - write: {too: up, data: x}\n"
            "      - repeat: {times: 2, steps: [{read: {from: dwn, block: 1}}]}\n")
    assert _lines(text) == [
        "f.yaml:6:32: workers.a.steps[0].write.data: Input should be a valid string (got 5)",
        "f.yaml:7:17: workers.a.steps[1].write.too: unknown field 'too' "
        "(allowed: data, size, to, every, at, from_read)",
        "f.yaml:8:62: workers.a.steps[2].repeat.steps[0].read.block: Input should be a "
        "valid boolean (got 1)",
    ]


def test_a_broken_worker_is_still_declared() -> None:
    """Every reference to a worker whose definition is wrong (its name, a replica, a
    spawn of it, a schedule entry) passes; a name nobody declared does not."""
    text = ("channels:\n  s: {kind: socket, server: srv}\n"
            "workers:\n"
            "  srv: [echo]\n"
            "  kid: {spawned: yes-please}\n"
            "  c:\n"
            "    steps:\n"
            "      - signal: {to: srv, sig: SIGUSR1}\n"
            "      - spawn: kid\n"
            "      - signal: {to: ghost, sig: SIGUSR1}\n"
            "timeline:\n  - {at: 1, stop: srv}\n"
            "schedule: [c, srv]\n")
    assert _lines(text) == [
        "f.yaml:4:8: workers.srv: Input should be a valid dictionary or instance of "
        "Worker (got ['echo'])",
        "f.yaml:5:18: workers.kid.spawned: Input should be a valid boolean (got 'yes-please')",
        "f.yaml:10:22: workers.c.steps[2].signal.to: unknown worker 'ghost' "
        "(workers: c, kid, srv, parent)",
    ]


def test_an_unknown_top_level_key_hides_nothing_else() -> None:
    """An unknown key at the top stops pydantic looking at the rest; the rest is still
    checked (a misspelt `workers:` does not also say workers are missing)."""
    text = ("timelin: []\nchannels:\n  up: {kind: pipe}\nworkers:\n  a:\n    steps:\n"
            "      - sleep: x\n      - write: {to: dwn, data: hi}\n")
    assert _lines(text) == [
        "f.yaml:1:1: timelin: unknown field 'timelin' (allowed: version, name, description, "
        "duration, channels, workers, timeline, triggers, expect, questions, schedule, after_schedule, "
        "speed, compare, count_syscalls, vary, start, result)",
        "f.yaml:7:16: workers.a.steps[0].sleep: Input should be a valid number (got 'x')",
        "f.yaml:8:21: workers.a.steps[1].write.to: unknown channel 'dwn' (channels: up)",
    ]
    misspelt = _lines("channels:\n  up: {kind: pipe}\nworker:\n  a: {}\n"
                      "timeline:\n  - {at: 1, kill: zz}\n")
    assert misspelt == ["f.yaml:3:1: worker: unknown field 'worker' (allowed: version, name, "
                        "description, duration, channels, workers, timeline, triggers, expect, "
                        "questions, schedule, after_schedule, speed, compare, count_syscalls, vary, start, "
                        "result)"]


def test_a_broken_section_makes_no_name_unknown() -> None:
    text = ("channels: [up]\nworkers:\n  a:\n    steps:\n      - write: {to: up, data: hi}\n"
            "      - signal: {to: zz, sig: SIGUSR1}\n")
    assert _lines(text) == [
        "f.yaml:1:11: channels: Input should be a valid dictionary (got ['up'])",
        "f.yaml:6:22: workers.a.steps[1].signal.to: unknown worker 'zz' (workers: a, parent)",
    ]


def test_budgets_wait_for_a_file_otherwise_right() -> None:
    """A process budget is worked out only when nothing else is wrong (it would be a guess
    on a file with holes)."""
    budget = Path(__file__).parent / "bad_scenarios" / "procs_nested_spawn.yaml"
    text = budget.read_text().replace("  p:\n", "  p:\n    restart: sometimes\n")
    assert _lines(text) == [
        "f.yaml:4:14: workers.p.restart: got 'sometimes'; expected 'never', 'on-failure' or "
        "'always'"]


def test_cli_validate_gives_every_line_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "five.yaml"
    path.write_text(FIVE)
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "channels.lock.value", "workers.w.count", "workers.r.steps[0].read.from",
        "workers.r.steps[2].acquire", "expect[1].channel"]
    assert all(line.startswith(f"{path}:") for line in lines)


def test_a_broken_timeline_entry_or_trigger_gives_only_its_own_line() -> None:
    """An entry with a wrong shape says that, not also that its worker is unknown; the
    entries after it keep their own indices and lines."""
    text = ("workers:\n  a: {}\n"
            "timeline:\n  - {at: soon, kill: zz}\n  - {at: 1, stop: yy}\n"
            "triggers:\n  - {key: x, kill: zz, labl: 3}\n  - {key: y, cont: xx}\n")
    assert _lines(text) == [
        "f.yaml:4:10: timeline[0].at: Input should be a valid number (got 'soon')",
        "f.yaml:5:19: timeline[1].stop: unknown worker 'yy' (workers: a)",
        "f.yaml:7:24: triggers[0].labl: unknown field 'labl' (allowed: signal, kill, stop, "
        "cont, restart, lock, pause_steps, resume_steps, close, key, label)",
        "f.yaml:8:20: triggers[1].cont: unknown worker 'xx' (workers: a)",
    ]


def test_every_unknown_key_of_a_mapping_has_its_line() -> None:
    """pydantic stops at a mapping's first unknown key; the others are found in the same
    run, and the worker's steps are still checked."""
    text = ("workers:\n  a:\n    cnt: 2\n    spwned: true\n    steps:\n"
            "      - write: {to: q, data: x}\n")
    allowed = ("(allowed: count, handlers, sa_flags, block, loop, restart, spawned, steps, exec, "
               "cwd, env, stdin, stdout, attach, ready, trace, keeps)")
    assert _lines(text) == [
        f"f.yaml:3:5: workers.a.cnt: unknown field 'cnt' {allowed}",
        f"f.yaml:4:5: workers.a.spwned: unknown field 'spwned' {allowed}",
        "f.yaml:6:21: workers.a.steps[0].write.to: unknown channel 'q' (channels: none defined)",
    ]


def test_a_channel_with_a_bad_option_still_checks_the_steps_on_its_kind() -> None:
    """`data: {kind: pipe, capcity: 10}` and a `send` to it: the misspelt option hid the
    wrong step kind until it was fixed (two rounds). Its kind is fine, so both now."""
    lines = _lines('channels:\n  data: {kind: pipe, capcity: 10}\n'
                   'workers:\n  a: {steps: [{send: {to: data, data: "x"}}]}\n')
    assert lines == [
        "f.yaml:2:22: channels.data.capcity: unknown field 'capcity' (allowed: kind, "
        "capacity)",
        "f.yaml:4:27: workers.a.steps[0].send.to: 'send' does not work on pipe 'data' "
        "(use write/read; 'send' is for mqueue, queue, sysv_queue)"]
