"""Workers that run real programs (`exec:`) and `ipcviz watch`: real programs, exact counts,
nothing of theirs left behind, and a user's file runs programs only with --allow-exec."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import psutil
import pytest

from ipcviz.scenario.load import ScenarioError, load_text

from .conftest import ROOT, registered_pids, run_cli
from .waiting import wait_until

PY = sys.executable
EXAMPLES = ROOT / "examples"


def _lines(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text.encode(), "f.yaml")
    return info.value.lines


def _summary(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _marked(tag: str) -> list[psutil.Process]:
    """Processes whose command line carries `tag` (each test's own marker)."""
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(tag in part for part in proc.info["cmdline"] or ()):
            out.append(proc)
    return out


PIPELINE = f"""\
duration: 5
channels:
  feed: {{kind: pipe}}
  back: {{kind: pipe}}
workers:
  producer:
    steps:
      - repeat: {{times: 3, steps: [{{write: {{to: feed, data: "line\\n"}}}}]}}
  upper:
    exec: [{PY}, -c, "import sys\\nfor l in sys.stdin: sys.stdout.write(l.upper())\\nprint('done', file=sys.stderr)"]
    stdin: {{from: feed}}
    stdout: {{to: back}}
  consumer:
    steps:
      - repeat: {{times: 3, steps: [{{read: {{from: back, bytes: 5}}}}]}}
"""


def test_a_program_between_two_pipes_moves_every_byte(scenario_file, nothing_left_behind
                                                      ) -> None:
    """producer -> feed -> a real program (stdin/stdout) -> back -> consumer: 15 bytes
    each way, and the program's stderr line in its output."""
    path = scenario_file(PIPELINE)
    summary = _summary(run_cli("run", str(path), "--headless", "--json", "--allow-exec"))
    workers = summary["workers"]
    assert workers["producer"]["bytes_written"] == {"feed": 15}
    assert workers["consumer"]["bytes_read"] == {"back": 15}
    assert workers["upper"]["exit"] == 0
    assert workers["upper"]["program"]["last_output"] == ["done"]
    assert workers["upper"]["program"]["output_lines"] == 1
    assert "signals_received" not in workers["upper"]  # not counted: not claimed
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}


def test_five_zombies_under_a_program_that_never_waits(nothing_left_behind) -> None:
    result = run_cli("watch", "--headless", "--json", "--duration", "3", "--",
                     PY, str(EXAMPLES / "fork_zombies.py"))
    worker = _summary(result)["workers"]["fork_zombies"]
    assert worker["zombies"] == 5
    assert worker["program"]["last_output"] == ["ready"]
    assert worker["blocked_on"] == "sleep"


def test_every_line_is_counted_when_a_program_floods_its_output(scenario_file,
                                                                 nothing_left_behind) -> None:
    path = scenario_file(f"""\
duration: 10
workers:
  flood:
    exec: [{PY}, -c, "for i in range(20000): print(i)"]
""")
    worker = _summary(run_cli("run", str(path), "--headless", "--json",
                              "--allow-exec"))["workers"]["flood"]
    assert worker["program"]["output_lines"] == 20000
    assert worker["program"]["last_output"] == [str(i) for i in range(19995, 20000)]


def test_the_channels_are_in_the_programs_environment(scenario_file, nothing_left_behind
                                                      ) -> None:
    """A program finds the run's FIFO by its path and its queue by its name."""
    path = scenario_file(f"""\
duration: 5
channels:
  f: {{kind: fifo}}
  jobs: {{kind: mqueue}}
workers:
  show:
    exec: [{PY}, -c, "import os; print(os.environ['IPCVIZ_F_PATH']); print(os.environ['IPCVIZ_JOBS_NAME']); print(os.environ['EXTRA'])"]
    env: {{EXTRA: "given"}}
""")
    worker = _summary(run_cli("run", str(path), "--headless", "--json",
                              "--allow-exec"))["workers"]["show"]
    fifo_path, queue_name, extra = worker["program"]["last_output"]
    assert fifo_path.endswith("/ch/f") and os.path.isabs(fifo_path)
    assert queue_name.startswith("/ipcviz.") and queue_name.endswith(".jobs")
    assert extra == "given"


def test_everything_a_program_started_is_killed_at_the_end(nothing_left_behind) -> None:
    """A child in the background and a double-forked orphan (adopted by the runtime, the
    subreaper) go with the program; none is left running."""
    tag = f"ipcviz-test-{os.getpid()}"
    script = (f"exec -a {tag}-a sleep 300 & (exec -a {tag}-b sleep 301 &); "
              f"exec -a {tag}-c sleep 302")
    result = run_cli("watch", "--headless", "--json", "--duration", "1", "--",
                     "bash", "-c", script)
    summary = _summary(result)
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
    assert _marked(tag) == []


def test_a_users_file_runs_programs_only_with_allow_exec(scenario_file, tmp_path: Path,
                                                          nothing_left_behind) -> None:
    marker = tmp_path / "ran"
    path = scenario_file(f"""\
workers:
  p:
    exec: [touch, {marker}]
""")
    result = run_cli("run", str(path), "--headless")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: worker 'p' runs a program (exec:), which can do anything you can; "
        "read the file, then run it with --allow-exec"]
    assert not marker.exists()
    assert run_cli("validate", str(path)).returncode == 0  # the file itself is fine
    assert run_cli("run", str(path), "--headless", "--allow-exec").returncode == 0
    assert marker.exists()


def test_a_program_not_found_is_one_line_and_nothing_starts(scenario_file,
                                                            nothing_left_behind) -> None:
    path = scenario_file("""\
workers:
  a: {steps: [{sleep: 5}]}
  p: {exec: [no-such-program-ipcviz]}
""")
    result = run_cli("run", str(path), "--headless", "--allow-exec")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: worker 'p': program 'no-such-program-ipcviz' not found on PATH "
        "(or not executable)"]
    watched = run_cli("watch", "--headless", "--", "./no-such-program")
    assert watched.returncode == 2
    assert watched.stderr.strip() == ("watch: program './no-such-program' not found "
                                      "(or not executable)")


def test_what_a_program_worker_cannot_have_is_said_with_its_line() -> None:
    assert _lines("""\
channels:
  q: {kind: mqueue}
workers:
  p:
    exec: [cat]
    count: 2
    stdin: {from: q}
    handlers: {SIGUSR1: count}
    steps: [{sleep: 1}]
  s:
    cwd: /tmp
    steps: [{sleep: 1}]
triggers:
  - {key: x, pause_steps: p}
""") == [
        "f.yaml:5:11: workers.p.exec: a worker runs a program (exec:) or steps (steps:), "
        "not both",
        "f.yaml:6:12: workers.p.count: a program runs once per worker; write one worker "
        "per copy",
        "f.yaml:7:19: workers.p.stdin.from: stdin can be a pipe or a fifo, not mqueue 'q'",
        "f.yaml:8:15: workers.p.handlers: 'handlers' applies to steps; a program sets up "
        "its own signals and loops",
        "f.yaml:11:10: workers.s.cwd: 'cwd' is for a worker that runs a program (exec:)",
        "f.yaml:14:27: triggers[0].pause_steps: 'pause_steps' acts on steps; 'p' runs a "
        "program",
    ]


def _needs_cc() -> None:
    from ipcviz.observe.cc import NoCompiler, compiler

    try:
        compiler()
    except NoCompiler as exc:
        pytest.skip(str(exc))


def test_a_c_program_pipe_seen_with_its_bytes_and_both_holders(scenario_file,
                                                               nothing_left_behind) -> None:
    """pipe_hold.c (compiled on first use) writes 1,000 bytes into a pipe its child never
    reads: 1,000 buffered, the parent at the write end, the child at the read end."""
    _needs_cc()
    path = scenario_file(f"""\
duration: 1.5
workers:
  hold: {{exec: [{EXAMPLES / 'pipe_hold.c'}]}}
""")
    worker = _summary(run_cli("run", str(path), "--headless", "--json", "--allow-exec",
                              timeout=180))["workers"]["hold"]
    seen = worker["program"]["observed"]
    parent = worker["pid"]
    (child,) = [p[0] for p in seen["processes"] if p[1] == parent]
    (pipe,) = [p for p in seen["pipes"] if p["buffered"]]
    assert pipe["buffered"] == 1000 and pipe["capacity"] == 65536
    assert pipe["writers"] == [parent] and pipe["readers"] == [child]
    assert worker["program"]["peak"]["processes"] == 2


def test_the_shared_numpy_segment_is_mapped_by_both_and_changes(nothing_left_behind
                                                                 ) -> None:
    name = f"/ipcviz_test_np{os.getpid()}"
    # 4 s: a Python program importing numpy takes a second or more to start on a loaded
    # machine (three test processes on two cores), and mappings are read every 5th frame
    result = run_cli("watch", "--headless", "--json", "--duration", "4", "--",
                     PY, str(EXAMPLES / "shm_numpy.py"), name, "1000")
    summary = _summary(result)
    program = summary["workers"]["shm_numpy"]["program"]
    (segment,) = program["observed"]["shared_memory"]
    assert segment["name"] == name and segment["size"] == 40
    assert len(segment["mappers"]) == 2
    printed = [line for line in program["last_output"] if not line.startswith("ready")]
    assert len(set(printed)) >= 2, printed  # the child keeps adding: the array changes
    # killed at the end, it could not unlink the segment: its leak, removed when asked
    assert summary["leaks"]["program_objects"] == [f"/dev/shm{name}"]
    assert os.path.exists(f"/dev/shm{name}")
    assert f"removed /dev/shm{name}" in run_cli("clean", "--program-leaks").stdout
    assert not os.path.exists(f"/dev/shm{name}")


def test_a_programs_leak_is_reported_and_removed_only_when_asked(nothing_left_behind
                                                                  ) -> None:
    """mq_hold.c creates a queue and would unlink it after 60 s; killed at the end of a
    1 s run, it leaves it: reported by name, not removed, until clean --program-leaks."""
    _needs_cc()
    from ipcviz.host.ipc_listing import queue_listing

    if queue_listing() is None:  # then no queue can be proved created during the run
        pytest.skip("message queues cannot be listed here (no mqueue mount, not root)")
    import posix_ipc

    name = f"/ipcviz_test_mq{os.getpid()}"
    result = run_cli("watch", "--headless", "--json", "--duration", "1", "--",
                     str(EXAMPLES / "mq_hold.c"), name, "4", timeout=180)
    try:
        summary = _summary(result)
        assert summary["leaks"]["program_objects"] == [f"/dev/mqueue{name}"]
        queue = posix_ipc.MessageQueue(name)
        assert queue.current_messages == 4
        queue.close()
        cleaned = run_cli("clean", "--program-leaks")
        assert f"removed /dev/mqueue{name}" in cleaned.stdout.splitlines()
        with pytest.raises(posix_ipc.ExistentialError):
            posix_ipc.MessageQueue(name)
    finally:
        try:
            posix_ipc.unlink_message_queue(name)
        except posix_ipc.ExistentialError:
            pass


def test_what_a_program_started_is_swept_after_the_runtime_is_killed(
        scenario_file, nothing_left_behind) -> None:
    """A program's children are no worker of ours (PDEATHSIG does not reach them): with
    the runtime SIGKILLed they lived on and `ipcviz clean` left them. The runtime puts
    each process a program starts into the run's registry, so clean ends them."""
    import signal as os_signal
    import subprocess
    import sys

    import psutil

    path = scenario_file("""
duration: 30
workers:
  p:
    exec: [sh, -c, "sleep 301 & sleep 302 & wait"]
""")
    run = subprocess.Popen([sys.executable, "-m", "ipcviz", "run", str(path), "--headless",
                            "--allow-exec"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        sleeps: list[psutil.Process] = []

        def named(process: psutil.Process) -> str:
            try:
                return process.name()
            except psutil.NoSuchProcess:  # a short-lived process of the run, gone since
                return ""

        def both_sleeping() -> bool:
            sleeps[:] = [c for c in psutil.Process(run.pid).children(recursive=True)
                         if named(c) == "sleep"]
            return len(sleeps) == 2

        wait_until(both_sleeping, message=lambda: f"the program's two sleeps; {sleeps}")
        wait_until(lambda: {s.pid for s in sleeps} <= registered_pids(),
                   message="the sleeps in the run's registry")
        run.send_signal(os_signal.SIGKILL)
        run.wait(10)
        assert all(s.is_running() for s in sleeps)  # orphans now, nobody's children
        result = run_cli("clean")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: not any(s.is_running() and s.status() != psutil.STATUS_ZOMBIE
                                   for s in sleeps), 5, message="clean to end the sleeps")
    finally:
        if run.poll() is None:
            run.kill()
        for s in sleeps:
            if s.is_running():
                s.kill()


def test_ipcvizs_own_pipes_are_never_the_programs(nothing_left_behind) -> None:
    """`watch -- sleep 30`: sleep holds no pipe, yet the summary's peak listed one to five
    (the fork was read before it had exec'd the program, with the runtime's descriptors)."""
    result = run_cli("watch", "--headless", "--json", "--duration", "1.5", "--",
                     "/bin/sleep", "30")
    program = _summary(result)["workers"]["sleep"]["program"]
    assert program["peak"]["pipes"] == {}
    assert program["observed"]["pipes"] == []


def test_a_c_program_that_does_not_build_is_one_line_naming_its_error(tmp_path) -> None:
    """The line named a deleted temporary scenario and gcc's first line ("In function
    'main':"), not the error. Also a directory given as the program."""
    _needs_cc()
    source = tmp_path / "broken.c"
    source.write_text("int main(void) {\n  return undefined_thing;\n}\n")
    result = run_cli("watch", "--headless", "--", str(source), timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"watch: cc failed: {source}:2:") and "error:" in line, line
    result = run_cli("watch", "--headless", "--", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"watch: '{tmp_path}' is a directory, not a program"]


def test_the_timeline_waits_for_a_programs_ready_line(scenario_file, nothing_left_behind
                                                      ) -> None:
    """A program that takes a second to set up its handler: a signal at 0.2 s would kill
    it; with `ready:` the timeline's 0.2 s count from its "ready" line, so it catches it."""
    program = ("import signal, time\\ntime.sleep(1.0)\\n"
               "signal.signal(signal.SIGUSR1, lambda *a: print('caught', flush=True))\\n"
               "print('set up: ready', flush=True)\\ntime.sleep(30)")
    text = f"""\
duration: 3
workers:
  p:
    exec: [{PY}, -c, "{program}"]
    ready: "set up: ready"
timeline:
  - at: 0.2
    signal: {{to: p, sig: SIGUSR1}}
"""
    worker = _summary(run_cli("run", str(scenario_file(text)), "--headless", "--json",
                              "--allow-exec"))["workers"]["p"]
    assert worker["exit"] is None
    assert worker["program"]["last_output"] == ["set up: ready", "caught"]
    assert worker["signals_sent_to"] == {"SIGUSR1": 1}
    assert "'ready' is for a worker that runs a program" in "\n".join(
        _lines("workers:\n  a: {ready: go, steps: [{sleep: 1}]}\n"))


def test_a_childs_own_masks_are_shown_beside_it(scenario_file, nothing_left_behind) -> None:
    """The child blocks SIGUSR1 and its parent sends it one: pending in the child (only
    there: the parent neither blocks nor has one pending)."""
    program = ("import os, signal, time\\n"
               "r, w = os.pipe()\\n"
               "pid = os.fork()\\n"
               "if pid == 0:\\n"
               "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\\n"
               "    os.write(w, b'x'); time.sleep(30); os._exit(0)\\n"
               "os.read(r, 1); os.kill(pid, signal.SIGUSR1)\\n"
               "print('sent', flush=True); time.sleep(30)")
    text = f"""\
duration: 2
workers:
  p: {{exec: [{PY}, -c, "{program}"]}}
"""
    worker = _summary(run_cli("run", str(scenario_file(text)), "--headless", "--json",
                              "--allow-exec"))["workers"]["p"]
    procs = {p[0]: p for p in worker["program"]["observed"]["processes"]}
    (child,) = [p for p in procs.values() if p[1] == worker["pid"]]
    assert child[6] == {"pending": ["SIGUSR1"], "blocked": ["SIGUSR1"]}
    assert procs[worker["pid"]][6] == {}


def test_a_watched_programs_cpu_share_and_memory_are_shown(nothing_left_behind) -> None:
    """A program that spins and holds 64 MiB: the last reading gives it CPU time, a share
    of a core (how much depends on the machine's load) and at least those bytes
    resident; the panel's line says the share and the memory."""
    from ipcviz.telemetry.snapshot import WorkerView
    from ipcviz.tui.widgets.programs import program_lines

    spin = ("block = bytearray(64 << 20)\n"
            "for i in range(0, len(block), 4096): block[i] = 1\n"
            "while True: pass\n")
    result = run_cli("watch", "--headless", "--json", "--duration", "2", "--", PY, "-c", spin)
    worker = next(iter(_summary(result)["workers"].values()))
    (row,) = worker["program"]["observed"]["processes"]
    cpu, rss, cpu_seconds = row[7], row[8], row[9]
    assert cpu is not None and cpu_seconds > 0  # touching 16,384 pages takes CPU time
    assert rss >= 64 << 20
    view = WorkerView(name="spin", group="spin", state="running", pid=row[0], program={"argv": [PY], "observed":
                      {"processes": [row], "pipes": [], "queues": [], "sockets": [],
                       "shared_memory": []}})
    shown = program_lines(view)[1].plain
    assert f"{cpu:.0f} % cpu" in shown and "MiB" in shown
