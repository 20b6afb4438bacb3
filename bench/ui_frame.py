"""What one frame costs the UI process, part by part, on recorded frames.

    python bench/ui_frame.py [--workers 64 512] [--rounds 3] [--against TREE]
                             [--data DIR] [--profile OUT.pstats]

A frame's cost in the UI is spread over two threads and Textual's loop, and a live run
under a loaded machine times none of it steadily. Here a recording of each load (`ipcviz
record` of bench/run.py's UI load at 64 workers, bench/crowd.py's 512 processes) is
played into the real app, headless at 120x40, through the live path: a reader thread
decodes each line (orjson, `Snapshot.from_dict`) and hands the Snapshot to the feed,
which posts it; the main thread applies it to the panels and Textual repaints; the next
line goes once the last frame is painted. CPU time is read per thread, so the figures
hold on a busy machine: decode (the reader thread), apply (the App's frame handler) and
the rest of the main thread (Textual's repaint and loop), in ms a frame.

`--against TREE` runs a second checkout (`git worktree add`) by the same script in the
same rounds, alternating, and prints the ratio of the medians. One line per load. The
first frames of a recording (workers starting) and of the app (its start) are not
counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECORD_SECONDS = {64: 20, 512: 30}
#: frames left out at the start of a recording: workers still starting
SKIP = 20
#: frames played before the counting starts: the app's own start
WARM = 10


def record(workers: int, data: Path) -> Path:
    """The recording of a load, made once into `data`."""
    out = data / f"ui{workers}.jsonl"
    if out.exists():
        return out
    sys.path.insert(0, str(HERE))
    scenario = data / f"ui{workers}.yaml"
    if workers == 64:
        from run import ui_scenario

        ui_scenario(scenario)
    else:
        import crowd

        scenario.write_text(crowd.SCENARIO)
    subprocess.run([sys.executable, "-m", "ipcviz", "record", "-o", str(out), "--duration",
                    str(RECORD_SECONDS[workers]), str(scenario)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, timeout=600)
    return out


def measure(tree: Path, recording: Path, profile: str | None) -> dict:
    """One child run of `tree` on `recording`: its per-frame figures."""
    argv = [sys.executable, str(HERE / "ui_frame.py"), "--child", str(recording)]
    argv += ["--profile", profile] if profile else []
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(recording: Path, profile: str | None) -> None:
    """Play `recording` into the app of the tree on sys.path; print the figures as JSON."""
    import asyncio
    import threading
    import time

    import orjson

    from ipcviz.telemetry.snapshot import Snapshot
    from ipcviz.tui.app import IpcvizApp, make_app
    from ipcviz.tui.source import Source

    try:  # the live path's decoder, in the trees that have one
        from ipcviz.tui.frame_decoder import FrameDecoder

        decode = FrameDecoder().decode
    except ImportError:
        decode = Snapshot.from_dict
    lines = recording.read_bytes().splitlines()[SKIP:]
    timing = {"decode": 0.0, "apply": 0.0, "main": 0.0, "frames": 0, "applied": 0}
    painted = threading.Event()
    main_clock = time.pthread_getcpuclockid(threading.main_thread().ident or 0)

    class Played(Source):
        coalesce = True

        def start(self, on_snapshot, on_error) -> None:  # type: ignore[no-untyped-def]
            def read() -> None:
                for index, line in enumerate(lines):
                    if index == WARM:  # the app's start (the footer's keys, the first
                        # layouts) is over: from here on, the frames alone
                        timing.update(decode=0.0, apply=0.0, frames=0, applied=0)
                        timing["main"] = -time.clock_gettime(main_clock)
                    start = time.thread_time()
                    snap = decode(orjson.loads(line))
                    timing["decode"] += time.thread_time() - start
                    painted.clear()
                    on_snapshot(snap)
                    painted.wait(10)
                    timing["frames"] += 1
                timing["main"] += time.clock_gettime(main_clock)
                painted.set()

            self.thread = threading.Thread(target=read, daemon=True)
            self.thread.start()

        def send(self, command) -> None:  # type: ignore[no-untyped-def]
            pass

        def stop(self) -> None:
            pass

    handler = IpcvizApp.on_snapshot_arrived

    def timed(self, message):  # type: ignore[no-untyped-def]
        start = time.thread_time()
        handler(self, message)
        timing["apply"] += time.thread_time() - start
        timing["applied"] += 1

    IpcvizApp.on_snapshot_arrived = timed  # type: ignore[method-assign]

    async def main() -> None:
        source = Played()
        app = make_app(source, handle_signals=True)  # as the CLI: gc frozen after the first frame
        app.watches_file = False
        async with app.run_test(size=(120, 40)):
            feed_painted = app.feed.painted

            def painted_now() -> None:
                feed_painted()
                painted.set()

            app.feed.painted = painted_now  # type: ignore[method-assign]
            while source.thread.is_alive():
                await asyncio.sleep(0.01)

    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(main())
        prof.disable()
        prof.dump_stats(profile)
    else:
        asyncio.run(main())
    frames = max(1, timing["applied"])
    print(json.dumps({"frames": timing["frames"], "applied": timing["applied"],
                      "decode": 1000 * timing["decode"] / max(1, timing["frames"]),
                      "apply": 1000 * timing["apply"] / frames,
                      "repaint": 1000 * (timing["main"] - timing["apply"]) / frames}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[64, 512],
                        choices=sorted(RECORD_SECONDS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, help="a second checkout, run alternately")
    parser.add_argument("--data", type=Path, help="where the recordings are kept")
    parser.add_argument("--profile", help="cProfile of one run of this tree to this file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.profile)
        return 0
    data = args.data or Path(tempfile.mkdtemp(prefix="ui_frame-"))
    data.mkdir(parents=True, exist_ok=True)
    trees = [ROOT] + ([args.against.resolve()] if args.against else [])
    for workers in args.workers:
        recording = record(workers, data)
        if args.profile:
            print(measure(ROOT, recording, args.profile))
            continue
        runs: dict[Path, list[dict]] = {tree: [] for tree in trees}
        for r in range(args.rounds):
            for tree in trees if r % 2 == 0 else trees[::-1]:
                runs[tree].append(measure(tree, recording, None))
        parts = {}
        for tree in trees:
            parts[tree] = {k: statistics.median(run[k] for run in runs[tree])
                           for k in ("decode", "apply", "repaint")}
            parts[tree]["whole"] = sum(parts[tree].values())
        line = (f"{workers} workers, UI ms a frame (CPU, median of {args.rounds}): "
                + ", ".join(f"{k} {v:.2f}" for k, v in parts[ROOT].items()))
        if args.against:
            old = parts[trees[1]]
            line += ("; against " + ", ".join(f"{k} {v:.2f}" for k, v in old.items())
                     + f"; ratio whole {parts[ROOT]['whole'] / old['whole']:.2f}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
