"""The runtime's cost per frame and the frame's size, in-process, against another tree.

    python bench/frame_cost.py [--load ui|crowd] [--seconds 8] [--rounds 3]
                               [--against ../other-checkout]

The runtime's own session loop (early frames on, as live) runs the UI load of bench/run.py
(64 workers, 16 pipes, 8 queues, a 64x64 array) or bench/crowd.py's 512 processes for
`--seconds`, its frames encoded as the live runtime encodes them and written to a pipe
that a `cat` drains (as the UI's reader thread would). Printed per run: the runtime's CPU
(its own process, not the workers) per second and per frame, the session loop's turns a
second, frames a second, bytes a
frame, and a breakdown per frame (the pipes' holders, the workers' views, the channels'
views, encoding, writing), and what decoding a frame
costs the UI (its reader thread's orjson and Snapshot.from_dict, timed after the run on
every fifth frame). With `--against`, this tree and the other are run alternately
(each run a fresh process importing its own tree), the order turning every round; the
last lines are the medians and the ratio this / other, one line per measure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: measures reported, in the order printed (ms or bytes per frame, % of a core)
MEASURES = ("cpu_pct", "turns_s", "ms_frame", "ms_tick", "fps", "bytes_frame", "holders_ms",
            "workers_ms", "channels_ms", "encode_ms", "write_ms", "ui_decode_ms")
#: frames kept to time the UI's decoding of them after the run (every fifth one)
DECODED = 20


def child(load: str, seconds: float) -> None:
    """One run in this process, with the ipcviz found first on sys.path; prints JSON."""
    import ipcviz  # (first: bench/run.py puts this checkout first on sys.path)
    from ipcviz.host.output import write_fully
    from ipcviz.protocol import Frame, message_line, read_message_line
    from ipcviz.telemetry.snapshot import Snapshot

    sys.path.insert(0, str(HERE))
    from crowd import SCENARIO as CROWD
    from run import ui_scenario
    from ipcviz.runtime import channel_views, pipe_holders, sampler as sampler_module
    from ipcviz.runtime.session import Session
    from ipcviz.runtime.supervisor import Runtime
    from ipcviz.scenario.load import load_scenario

    spent: dict[str, float] = {"holders": 0.0, "workers": 0.0, "channels": 0.0}

    def timed(owner: object, name: str, key: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[key] += time.process_time() - start
        setattr(owner, name, wrapper)

    timed(channel_views, "holders_of", "holders")
    timed(channel_views.ChannelViews, "views", "channels")
    views = sampler_module.WorkerViews
    timed(views, "worker_view", "workers")
    timed(views, "kid_view", "workers")
    _ = pipe_holders
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.yaml"
        if load == "ui":
            ui_scenario(path)
        else:
            path.write_text(CROWD)
        runtime = Runtime(load_scenario(str(path)))
        drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        assert drain.stdin is not None
        out = drain.stdin.fileno()
        stats = {"frames": 0, "ticks": 0, "bytes": 0, "encode": 0.0, "write": 0.0,
                 "sample": 0.0, "sample_tick": 0.0, "turns": 0}
        warm = 3.0 if load == "ui" else 8.0
        state = {"measuring": False}
        lines: list[bytes] = []
        session: Session

        def sink(snap: object) -> None:
            start = time.process_time()
            line = message_line(Frame(snap.to_dict()))  # type: ignore[attr-defined]
            mid = time.process_time()
            write_fully(out, line)
            end = time.process_time()
            if state["measuring"]:
                if stats["frames"] % 5 == 0 and len(lines) < DECODED:
                    lines.append(line)
                stats["frames"] += 1
                stats["bytes"] += len(line)
                stats["encode"] += mid - start
                stats["write"] += end - mid

        runtime.start()
        session = Session(runtime, sink, early_frames=True)
        began = time.monotonic()
        sample = session.sampler.sample

        def sampled(kernel: bool = True, flush: bool = False) -> object:
            start = time.process_time()
            snap = sample(kernel, flush)
            if state["measuring"]:
                took = time.process_time() - start
                stats["sample"] += took
                if kernel:
                    stats["ticks"] += 1
                    stats["sample_tick"] += took
            return snap
        session.sampler.sample = sampled  # type: ignore[method-assign]

        def turn() -> None:
            if state["measuring"]:
                stats["turns"] += 1
            if state["measuring"] and time.monotonic() - state["t0"] >= seconds:
                runtime.intake.stop_requested = True
            if not state["measuring"] and time.monotonic() - began >= warm:
                state["measuring"] = True
                for key in spent:
                    spent[key] = 0.0
                usage = resource.getrusage(resource.RUSAGE_SELF)
                state["cpu0"] = usage.ru_utime + usage.ru_stime
                state["t0"] = time.monotonic()
        session.on_turn = turn
        try:
            session.run()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime - state["cpu0"]
            wall = time.monotonic() - state["t0"]
        finally:
            session.sampler.close()
            runtime.shutdown()
            drain.stdin.close()
            drain.wait(timeout=30)
    decoding = []
    for line in lines:  # as the UI's reader thread does (tui/source.py)
        start = time.process_time()
        message = read_message_line(line)
        Snapshot.from_dict(message.snapshot)  # type: ignore[union-attr]
        decoding.append(time.process_time() - start)
    frames = max(1, stats["frames"])
    print(json.dumps({
        "workers": len(runtime.procs), "cpu_pct": 100 * cpu / wall,
        "turns_s": stats["turns"] / wall,
        "ms_frame": 1e3 * cpu / frames,
        "ms_tick": 1e3 * stats["sample_tick"] / max(1, stats["ticks"]),
        "fps": frames / wall, "bytes_frame": stats["bytes"] / frames,
        "holders_ms": 1e3 * spent["holders"] / frames,
        "workers_ms": 1e3 * spent["workers"] / frames,
        "channels_ms": 1e3 * (spent["channels"] - spent["holders"]) / frames,
        "encode_ms": 1e3 * stats["encode"] / frames, "write_ms": 1e3 * stats["write"] / frames,
        "ui_decode_ms": 1e3 * statistics.median(decoding) if decoding else float("nan"),
        "load": os.getloadavg()[0], "tree": str(Path(ipcviz.__file__).parent.parent)}))


def run(tree: Path, load: str, seconds: float) -> dict[str, float]:
    """One run of `tree`'s ipcviz in a fresh process (this script as the child)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                           "--load", load, "--seconds", str(seconds)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: run failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["tree"]) != tree:
        raise SystemExit(f"{tree}: the run imported the ipcviz of {result['tree']}")
    return result


def show(name: str, r: dict[str, float]) -> None:
    print(f"  {name:>6}: " + "  ".join(f"{k} {r[k]:.2f}" for k in MEASURES)
          + f"  (load {r['load']:.1f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", choices=("ui", "crowd"), default="ui")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.load, args.seconds)
        return 0
    trees = {"this": HERE.parent}
    if args.against is not None:
        trees["other"] = args.against.resolve()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        print(f"round {r + 1}", flush=True)
        for name in order:
            results[name].append(run(trees[name], args.load, args.seconds))
            show(name, results[name][-1])
    for key in MEASURES:
        mine = statistics.median(x[key] for x in results["this"])
        line = f"{key}: this {mine:.2f}"
        if "other" in results:
            theirs = statistics.median(x[key] for x in results["other"])
            line += f", other {theirs:.2f}, ratio {mine / theirs if theirs else float('nan'):.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
