"""`trace: true` / `watch --trace`: strace follows a program's tree and its output is
counted exactly (signal deliveries, bytes per descriptor). Real programs, real strace."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from ipcviz.runtime.tracing import Trace, kernel_signal
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.tui.widgets.programs import trace_line

from .conftest import run_cli
from .test_programs import EXAMPLES, _needs_cc

PY = sys.executable

needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="strace is not installed (apt install strace)")

#: catches SIGRTMIN, blocks SIGUSR1 (so those stay pending: never delivered)
CATCHER = ("import signal, time\\n"
           "signal.signal(signal.SIGRTMIN, lambda *a: None)\\n"
           "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\\n"
           "print('ready', flush=True)\\n"
           "time.sleep(30)")


def _run(path, timeout: float = 120) -> dict:
    result = run_cli("run", str(path), "--headless", "--json", "--allow-exec", timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_strace
def test_fifty_real_time_signals_counted_exactly_and_blocked_ones_not(scenario_file,
                                                                      nothing_left_behind
                                                                      ) -> None:
    path = scenario_file(f"""\
duration: 3
workers:
  p:
    exec: [{PY}, -c, "{CATCHER}"]
    trace: true
timeline:
  - at: 1.5
    signal: {{to: p, sig: SIGRTMIN, count: 50}}
  - at: 1.6
    signal: {{to: p, sig: SIGUSR1, count: 5}}
""")
    worker = _run(path)["workers"]["p"]
    assert worker["exit"] is None, worker  # it caught every one
    assert worker["signals_received"] == {"SIGRTMIN": 50}  # SIGUSR1: pending, not delivered
    trace = worker["program"]["trace"]
    assert trace["attached"] is True
    assert trace["signals_by_process"] == {str(worker["pid"]): {"SIGRTMIN": 50}}


def test_without_trace_a_program_has_no_signal_counts(scenario_file, nothing_left_behind
                                                      ) -> None:
    """Without strace nothing counts what a program received: no zeros that look like a
    measurement, and the panel says how to get them."""
    path = scenario_file(f"""\
duration: 1
workers:
  p: {{exec: [{PY}, -c, "import time; time.sleep(5)"]}}
""")
    worker = _run(path)["workers"]["p"]
    assert "signals_received" not in worker and "trace" not in worker["program"]
    assert "only with --trace" in trace_line(None).plain


@needs_strace
def test_a_c_programs_thousand_bytes_are_counted_on_its_pipe(scenario_file,
                                                             nothing_left_behind) -> None:
    _needs_cc()
    path = scenario_file(f"""\
duration: 1.5
workers:
  hold: {{exec: [{EXAMPLES / 'pipe_hold.c'}], trace: true}}
""")
    program = _run(path, timeout=180)["workers"]["hold"]["program"]
    (pipe,) = [p for p in program["observed"]["pipes"] if p["buffered"]]
    moved = program["trace"]["descriptors"][f"pipe:[{pipe['inode']}]"]
    assert moved["bytes_written"] == pipe["buffered"] == 1000
    assert moved["bytes_read"] == 0 and moved["writes"] == 1


def test_strace_lines_are_counted_whole_and_exactly() -> None:
    trace = Trace("w", None, -1)  # type: ignore[arg-type]
    trace.feed(b"10 write(3<pipe:[77]>, \"\"..., 5) = 5\n"
               b"10 read(4<pipe:[78]>,  <unfinished ...>\n"
               b"11 write(5<pipe:[78]>, \"\"..., 9) = 9\n"
               b"10 <... read resumed>\"\"..., 4096) = 9\n"
               b"10 write(3<pipe:[77]>, \"\"..., 5) = -1 EPIPE (Broken pipe)\n"
               b"10 --- SIGRT_2 {si_signo=SIGRT_2, si_code=SI_USER} ---\n"
               b"11 --- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER} ---\n"
               b"12 mq_timedsend(6</q>, \"\"..., 7, 1, NULL) = 0\n"
               b"12 --- SIGCH")  # a line not yet whole: not counted
    view = trace.view()
    assert view["descriptors"]["pipe:[77]"]["bytes_written"] == 5  # the failed one: not
    assert view["descriptors"]["pipe:[77]"]["writes"] == 1
    assert view["descriptors"]["pipe:[78]"] == {"bytes_written": 9, "bytes_read": 9,
                                                "writes": 1, "reads": 1,
                                                "messages_sent": 0, "messages_received": 0}
    assert view["descriptors"]["/q"]["bytes_written"] == 7
    assert view["descriptors"]["/q"]["messages_sent"] == 1
    assert view["signals_received"] == {"SIGUSR1": 1, "SIGRTMIN": 1}
    trace.feed(b"LD {si_signo=SIGCHLD} ---\n")
    assert trace.view()["signals_received"]["SIGCHLD"] == 1
    assert kernel_signal("SIGRT_2") == 34 and kernel_signal("SIGTERM") == 15


def test_trace_is_for_a_program_worker() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(b"workers:\n  a:\n    trace: true\n    steps: [{sleep: 1}]\n", "f.yaml")
    assert any("'trace' is for a worker that runs a program" in line
               for line in info.value.lines)


def test_watch_trace_without_strace_is_one_line(monkeypatch) -> None:
    import argparse

    from ipcviz import watch

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    said: list[list[str]] = []
    args = argparse.Namespace(argv=["--", "true"], json=False, headless=True, trace=True,
                              name=None, duration=None)
    code = watch.watch_command(args, launch=None, run_headless=None,  # type: ignore[arg-type]
                               fail=lambda lines: said.append(lines) or 2)
    assert code == 2 and said == [["watch: --trace needs strace (Debian/Ubuntu: apt install "
                                   "strace)"]]


def test_a_watched_segment_is_shown_in_the_dtype_picked() -> None:
    from ipcviz.telemetry.snapshot import WorkerView
    from ipcviz.tui.widgets.programs import DTYPES, contents_text, program_lines

    raw = b"".join(n.to_bytes(8, "little") for n in (1, 1, 2, 3, 5))  # 40 bytes: 5 int64
    assert contents_text(raw, "int64") == "int64: 1 1 2 3 5"
    assert contents_text(raw, "int32") == "int32: 1 0 1 0 2 0 3 0 5 0"
    assert contents_text(raw, "bytes").startswith("01 00 00 00 00 00 00 00 01")
    assert contents_text(raw[:3], "int64") == "int64: (fewer than 8 bytes)"
    assert DTYPES[0] == "bytes"  # what a segment shows until `d` is pressed
    seg = {"name": "/fib", "kind": "posix_shm", "size": 40, "mappers": [10, 11],
           "contents": raw.hex()}
    w = WorkerView(name="p", group="p", pid=10, state="sleeping", program={
        "argv": ["prog"], "observed": {"processes": [[10, 1, "prog", "sleeping", "", 0]],
                                       "pipes": [], "queues": [], "sockets": [],
                                       "shared_memory": [seg]}})
    text = "\n".join(line.plain for line in program_lines(w, "int64"))
    assert "shared memory /fib (40 B), mapped by p, 11" in text
    assert "int64: 1 1 2 3 5  (d: next)" in text


def test_a_path_in_a_line_cannot_pass_for_its_result() -> None:
    trace = Trace("w", None, -1)  # type: ignore[arg-type]
    trace.feed(b'10 read(3<socket:[9]>, "x\\") = 555555", 4) = ? ERESTARTSYS (To be restarted '
               b'if SA_RESTART is set)\n'
               b'10 read(4</tmp/a) = 7>, ""..., 9) = 3\n')
    view = trace.view()["descriptors"]
    assert "socket:[9]" not in view  # interrupted: nothing counted
    assert view["/tmp/a) = 7"]["bytes_read"] == 3
