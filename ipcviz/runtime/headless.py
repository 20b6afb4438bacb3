"""`ipcviz run --headless` and `ipcviz record`: the session loop with a summary (and a
recording) instead of the App."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ipcviz.format import escape_control
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.session import Session
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import LoadedScenario
from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.channels import shm_object
from ipcviz.telemetry.summary import build_summary


@dataclass
class HeadlessResult:
    summary: dict[str, Any]
    final: Snapshot
    leak_details: list[str]


def run_headless(scenario: LoadedScenario, duration: float | None = None,
                 progress: bool = False,
                 on_snapshot: Callable[[Snapshot], None] | None = None,
                 frame_interval: float = 0.1, schedule: list[str] | None = None,
                 speed: float | None = None, allow_exec: bool = False) -> HeadlessResult:
    """Run until every worker has ended or `duration` seconds of run time have passed
    (slow motion stretches them, a schedule stops the clock while it lasts), or a
    schedule failed or ended with `after_schedule: pause`; summary, then cleanup.

    With `on_snapshot`, a Snapshot is also taken every `frame_interval` (recording).
    `schedule` and `speed` override the scenario's.
    """
    limit = scenario.model.duration if duration is None else duration
    runtime = Runtime(scenario, schedule=schedule, speed=speed, allow_exec=allow_exec)
    session = Session(runtime, on_snapshot or (lambda snap: None), limit=limit,
                      frame_interval=frame_interval,
                      on_turn=_progress(runtime, scenario.name, limit) if progress else None)
    sampler = session.sampler
    runtime.start()
    try:
        session.run()
        runtime.cut_bursts()  # a burst the end cut short counts what went out, and says so
        runtime.poll(0.0)
        elapsed = runtime.elapsed
        if runtime.all_ended():
            final = sampler.sample(flush=True)
        else:  # still running: counters once everything stands still
            final = final_frame(sampler, runtime.quiesce)
        if on_snapshot is not None:
            on_snapshot(final)
    finally:
        sampler.close()
        cleanup_started = time.monotonic()
        runtime.shutdown()
        cleanup = time.monotonic() - cleanup_started
        if progress:
            sys.stderr.write("\r" + " " * 60 + "\r")
    leaks = runtime.leaks()
    final = shm_object.after_cleanup(final)  # shm objects the run kept to its end
    summary = build_summary(final, elapsed, leaks, scenario.model.expect)
    summary["cleanup_s"] = round(cleanup, 3)
    summary.update(_run_facts(runtime))
    return HeadlessResult(summary, final, list(leaks["details"]))


def _progress(runtime: Runtime, name: str, limit: float) -> Callable[[], None]:
    """A report of the run's progress on stderr, at most twice a second."""
    last_report = -1.0

    def report_progress() -> None:
        nonlocal last_report
        if runtime.elapsed - last_report >= 0.5:
            last_report = runtime.elapsed
            alive = sum(p.alive for p in runtime.procs)
            sys.stderr.write(f"\r{escape_control(name)}: {runtime.elapsed:5.1f}/{limit:g} s, "
                             f"{alive} worker(s) alive ")
            sys.stderr.flush()

    return report_progress


def _run_facts(runtime: Runtime) -> dict[str, Any]:
    """The summary's facts of the run itself: containment, speed and the schedule."""
    scheduler = runtime.scheduler
    facts: dict[str, Any] = {}
    if runtime.containment is not None:
        facts["containment"] = runtime.containment.mechanism
    facts["speed"] = scheduler.speed
    facts["schedule"] = list(scheduler.performed)
    facts["schedule_error"] = None if scheduler.error is None else scheduler.error.to_dict()
    return facts


def final_frame(sampler: Sampler, quiesce: Callable[[], object]) -> Snapshot:
    """The last frame of a run the clock ended: a reading taken once `quiesce` has held
    every worker at its next quiet point (so its counters are exact), with what that hold
    itself changed taken from a reading just before it (with_states_of)."""
    live = sampler.sample()
    quiesce()
    return with_states_of(sampler.sample(flush=True), live)


def with_states_of(frozen: Snapshot, live: Snapshot) -> Snapshot:
    """The frozen reading, states and counters of its one moment, except what the final
    hold made: each worker's cpu and `paused` come from `live`; a worker the hold
    stopped at its step boundary (held there now, not in `live`) is shown "running", as
    it was on its way there; a worker `live` saw stopped is "stopped" (the hold woke it
    to store its counts and stops it again). Every other state is the frozen one: a
    worker `live` saw waiting for a semaphore may have taken it since, and holds it in
    these counters."""
    import dataclasses

    states = {w.name: w for w in live.workers}
    workers = []
    for w in frozen.workers:
        was = states.get(w.name)
        if was is None:
            workers.append(w)
            continue
        state, waiting = w.state, w.waiting
        if was.state == "stopped":
            state, waiting = was.state, was.waiting
        elif state == "held" and was.state != "held":
            state, waiting = "running", None
        workers.append(dataclasses.replace(w, state=state, waiting=waiting, cpu=was.cpu,
                                           paused=was.paused))
    return dataclasses.replace(frozen, workers=tuple(workers),
                               events=live.events + frozen.events)


def format_text(summary: dict[str, Any]) -> str:
    """A human-readable report of a summary."""
    lines = [f"{summary['scenario']}  ({summary['duration_s']} s)"]
    for name, w in summary["workers"].items():
        status = w["state"] + (f" ({w['exit']})" if w["exit"] is not None else "")
        lines.append(f"  worker {name:<14} pid {w['pid']}  {status}  restarts {w['restarts']}")
        if w.get("failure"):
            lines.append(f"      failure: {w['failure']}")
        if w.get("blocked_on"):
            lines.append(f"      waits in: {w['blocked_on']}")
        if w.get("zombies"):
            lines.append(f"      zombie children: {w['zombies']}")
        program = w.get("program")
        if program:
            lines.append(f"      program: {' '.join(program['argv'])}  "
                         f"({program['output_lines']} output lines)")
            lines += [f"      | {line}" for line in program["last_output"]]
            lines += [f"      DIAGNOSIS: {d['text']}" for d in program.get("diagnoses", [])]
        for key in ("signals_received", "signals_sent", "bytes_written", "bytes_read"):
            if w.get(key):
                shown = ", ".join(f"{k} {v}" for k, v in w[key].items())
                lines.append(f"      {key.replace('_', ' ')}: {shown}")
    for name, c in summary["channels"].items():
        nested = {k: v for k, v in c.items() if isinstance(v, dict) and v
                  and all(isinstance(x, dict) for x in v.values())}  # per worker figures
        shown = ", ".join(f"{k} {v}" for k, v in c.items() if k != "kind" and k not in nested)
        lines.append(f"  {c['kind']} {name}: {shown}")
        for key, per in nested.items():
            for who, figures in per.items():
                shown = ", ".join(f"{k} {v}" for k, v in figures.items())
                lines.append(f"      {key} {who}: {shown}")
    if summary.get("schedule"):
        lines.append("  schedule performed: " + " ".join(summary["schedule"]))
    if summary.get("schedule_error"):
        error = summary["schedule_error"]
        lines.append(f"  SCHEDULE ERROR: schedule[{error['index']}]: worker '{error['worker']}' "
                     f"cannot move: {error['reason']}")
    if summary.get("deadlock"):
        lines.append("  DEADLOCK: " + " -> ".join(summary["deadlock"]))
    for result in summary["expect"]:
        mark = "ok  " if result["ok"] else "FAIL"
        seen = (f"not measured here: {result['unmeasured']}" if result.get("unmeasured")
                else f"actual {result['actual']}")
        lines.append(f"  [{mark}] {result['check']} ({seen})")
    leaks = summary["leaks"]
    lines.append(f"  left behind: {leaks['processes']} processes, {leaks['ipc_objects']} IPC objects"
                 + (f" (the run's processes kept together by: {summary['containment']})"
                    if summary.get("containment") else ""))
    for path in leaks.get("program_objects", []):
        lines.append(f"  left behind by a program (its own, not removed): {path}; "
                     "`ipcviz clean --program-leaks` removes it")
    return "\n".join(lines)
