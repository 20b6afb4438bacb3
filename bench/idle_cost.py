"""The runtime's CPU while a person watches a lesson in which nothing moves, in-process.

    python bench/idle_cost.py [LESSON ...] [--seconds S] [--profile]

Each lesson runs as the live runtime runs it (Session with early frames, every frame
encoded as the line the UI reads, written to /dev/null), held at its start as the live
view opens it (`start: held`), for S seconds (default 15). Printed: the runtime
process's CPU over that time as a percentage of one core (its own threads only: the
workers are other processes), frames sent, and the median cost of one frame.
`--profile` adds the functions that took the most time (cProfile, by own time).
`--ui`: the whole live view instead (the app in-process at 120x40, the runtime its child
process): the UI's CPU and the runtime's, each as a percentage of one core.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ipcviz.protocol import Frame, message_line  # noqa: E402
from ipcviz.runtime.session import Session  # noqa: E402
from ipcviz.runtime.supervisor import Runtime  # noqa: E402
from ipcviz.scenario.load import load_scenario  # noqa: E402

LESSONS = ["counting_semaphore", "pipe_oneway", "signals_handlers", "shm_counter_race"]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def watch(lesson: str, seconds: float, profile: bool) -> None:
    scenario = load_scenario(lesson)
    runtime = Runtime(scenario, held=scenario.model.start == "held")
    sink = os.open(os.devnull, os.O_WRONLY)
    costs: list[float] = []

    def send(snap) -> None:  # type: ignore[no-untyped-def]
        os.write(sink, message_line(Frame(snap.to_dict())))

    # the UI's commands arrive on a pipe, as live; closing it after `seconds` ends the run
    commands, closer = os.pipe()
    session = Session(runtime, send, early_frames=True, input_fd=commands,
                      on_input=lambda: os.read(commands, 4096) != b"")
    sample = session.sampler.sample

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return sample(*args, **kwargs)
        finally:
            costs.append(time.perf_counter() - start)

    session.sampler.sample = timed  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None
    try:
        runtime.start()
        time.sleep(0.5)  # the workers at their first boundary
        threading.Timer(seconds, os.close, [closer]).start()
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        if profiler is not None:
            profiler.enable()
        session.run()
        if profiler is not None:
            profiler.disable()
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    finally:
        session.sampler.close()
        runtime.shutdown()
        os.close(sink)
        os.close(commands)
    print(f"{lesson:>20}: runtime {cpu / wall * 100:5.1f} % of a core over {wall:.1f} s, "
          f"{len(costs)} frames, median frame {statistics.median(costs) * 1e3:.2f} ms")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


async def watch_ui(lesson: str, seconds: float) -> None:
    """The app and its runtime process, held at the lesson's start, for `seconds`."""
    from ipcviz.host.process import CLOCK_TICKS, read_stat
    from ipcviz.scenario.paths import bundled_dir
    from ipcviz.tui.app import make_app
    from ipcviz.tui.source import LiveSource

    app = make_app(source=LiveSource(str(bundled_dir() / f"{lesson}.yaml"), held=True))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.latest is None:
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        runtime = app.source.proc.pid

        def runtime_cpu() -> float:
            stat = read_stat(runtime)
            return stat.cpu_ticks / CLOCK_TICKS if stat is not None else 0.0

        ui0, rt0, t0, f0 = cpu_seconds(), runtime_cpu(), time.monotonic(), app.latest.seq
        await pilot.pause(seconds)
        ui, rt, wall = cpu_seconds() - ui0, runtime_cpu() - rt0, time.monotonic() - t0
        frames = app.latest.seq - f0
        await pilot.press("q")
    print(f"{lesson:>20}: UI {ui / wall * 100:5.1f} % + runtime {rt / wall * 100:5.1f} % of a "
          f"core over {wall:.1f} s, {frames / wall:.1f} frames/s")


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", default=LESSONS)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--ui", action="store_true")
    args = parser.parse_args()
    for lesson in args.lessons:
        if args.ui:
            import asyncio

            asyncio.run(watch_ui(lesson, args.seconds))
        else:
            watch(lesson, args.seconds, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
