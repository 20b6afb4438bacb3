"""Run every benchmark and write bench/README.md: each figure next to its target.

    python bench/run.py                       (about 14 minutes on 2 cores: 10 of memory run)
    python bench/run.py --memory-seconds 60   (a quick pass; the memory row then says "no")
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_table import replace_block  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import overhead  # noqa: E402


def ui_scenario(path: Path) -> None:
    """64 workers, 16 pipes, 8 queues and a 64x64 shared array, all changing."""
    lines = ["name: UI load", "duration: 600", "channels:"]
    lines += [f"  p{i}: {{kind: pipe}}" for i in range(16)]
    lines += [f"  q{i}: {{kind: mqueue, capacity: 10, message_size: 64}}" for i in range(8)]
    lines += ["  grid: {kind: shared_array, dtype: int64, shape: [64, 64]}", "workers:"]
    for i in range(16):
        lines += [f"  w{i}: {{handlers: {{SIGUSR1: count}}, loop: true, steps: "
                  f"[{{write: {{to: p{i}, size: 64}}}}, {{sleep: 0.01}}]}}",
                  f"  r{i}: {{loop: true, steps: [{{read: {{from: p{i}, bytes: 64}}}}]}}"]
    for i in range(8):
        lines += [f"  s{i}: {{loop: true, steps: [{{send: {{to: q{i}, size: 8}}}}, {{sleep: 0.01}}]}}",
                  f"  c{i}: {{loop: true, steps: [{{receive: {{from: q{i}}}}}]}}"]
    for i in range(16):
        lines += [f"  a{i}: {{loop: true, steps: [{{increment: {{array: grid, index: "
                  f"[{i * 4}, {i}], times: 100}}}}, {{sleep: 0.01}}]}}"]
    path.write_text("\n".join(lines) + "\n")


async def ui_measure(path: Path) -> dict:
    from ipcviz.protocol import SendSignal
    from ipcviz.signals import parse_signal
    from ipcviz.tui.app import make_app
    from ipcviz.tui.source import LiveSource

    app = make_app(source=LiveSource(str(path)))
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while app.latest is None or app.latest.elapsed < 2:
            await pilot.pause(0.05)
        r0, t0, f0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic(), app.latest.seq
        await pilot.pause(10)
        r1, t1, f1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic(), app.latest.seq
        out["workers"] = len(app.latest.workers)
        out["ui_cpu"] = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0) * 100
        out["fps"] = (f1 - f0) / (t1 - t0)
        # When the panels got the count (the Snapshot handler ran) and when the screen was
        # next painted: a hook on each, so the measuring loop's own polling adds nothing.
        applied: list[tuple[float, int]] = []
        painted: list[float] = []
        app_class = type(app)
        handler, display = app_class.on_snapshot_arrived, app_class._display

        def on_snapshot(self, message):  # type: ignore[no-untyped-def]
            handler(self, message)
            if self.latest is not None:
                applied.append((time.monotonic(),
                                self.latest.worker("w0").signals_received.get("SIGUSR1", 0)))

        def on_display(self, screen, renderable):  # type: ignore[no-untyped-def]
            painted.append(time.monotonic())
            return display(self, screen, renderable)

        app_class.on_snapshot_arrived, app_class._display = on_snapshot, on_display
        latencies = []
        try:
            for _ in range(40):
                before = app.latest.worker("w0").signals_received.get("SIGUSR1", 0)
                start = time.monotonic()
                app.source.send(SendSignal("w0", parse_signal("SIGUSR1")))
                while not any(t >= start and n > before for t, n in applied):
                    await pilot.pause(0.01)
                shown = min(t for t, n in applied if t >= start and n > before)
                while not any(t >= shown for t in painted):
                    await pilot.pause(0.01)
                latencies.append(min(t for t in painted if t >= shown) - start)
                await pilot.pause(0.05 + 0.1 * random.random())  # not in step with frames
        finally:
            app_class.on_snapshot_arrived, app_class._display = handler, display
        latencies.sort()
        out["latency_p50_ms"] = latencies[len(latencies) // 2] * 1000
        out["latency_p95_ms"] = latencies[int(0.95 * (len(latencies) - 1))] * 1000
        import psutil

        out["ui_rss_mb"] = psutil.Process().memory_info().rss / 2**20
        await pilot.press("q")
    return out


async def memory_run(path: Path, seconds: float) -> dict:
    """The UI under the same load for `seconds`: its RSS every 10 s, and each worker's
    unique memory (USS) at the end."""
    import psutil

    from ipcviz.tui.app import make_app
    from ipcviz.tui.source import LiveSource

    app = make_app(source=LiveSource(str(path)))
    me = psutil.Process()
    samples: list[tuple[float, float]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            await pilot.pause(min(10.0, seconds))
            samples.append((time.monotonic() - start, me.memory_info().rss / 2**20))
            print(f"\r  memory: {samples[-1][0]:4.0f}/{seconds:.0f} s, "
                  f"UI RSS {samples[-1][1]:.0f} MB ", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        runtime = [c for c in me.children() if "ipcviz.runtime" in " ".join(c.cmdline())]
        workers = runtime[0].children() if runtime else []
        uss = [w.memory_full_info().uss / 2**20 for w in workers]
        await pilot.press("q")
    settled = [rss for t, rss in samples if t >= min(60.0, seconds / 2)] or [samples[-1][1]]
    return {"seconds": samples[-1][0], "rss_first": settled[0], "rss_last": samples[-1][1],
            "rss_max": max(rss for _, rss in samples), "workers": len(uss),
            "uss_max": max(uss) if uss else 0.0, "uss_median": sorted(uss)[len(uss) // 2]
            if uss else 0.0}


STARTUP = """
import sys, time
from ipcviz.scenario.load import load_text
from ipcviz.runtime.supervisor import Runtime
from ipcviz.telemetry import table as T
n = int(sys.argv[1])
text = f"workers:\\n  w: {{count: {n}}}\\n".encode()
scenario = load_text(text, "bench")
rt = Runtime(scenario)
t0 = time.monotonic()
rt.start()
while not all(rt.table.array[p.row, T.EVENT_SEQ] >= 1 for p in rt.procs):
    time.sleep(0.001)
t1 = time.monotonic()
rt.shutdown()
print(t1 - t0)
"""

SCALE = """
import sys, time
from ipcviz.scenario.load import load_text
from ipcviz.runtime.supervisor import Runtime
from ipcviz.runtime.sampler import Sampler
n = int(sys.argv[1])
text = ("channels:\\n" + "".join(f"  p{i}: {{kind: pipe}}\\n" for i in range(n // 4)) +
        f"workers:\\n  w: {{count: {n}, handlers: {{SIGUSR1: count}}}}\\n").encode()
rt = Runtime(load_text(text, "bench"))
rt.start()
sampler = Sampler(rt)
time.sleep(0.5)
sampler.sample()
t0 = time.monotonic()
for _ in range(20):
    sampler.sample()
print((time.monotonic() - t0) / 20)
rt.shutdown()
"""


def python(code: str, *args: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def first_frame() -> float:
    """Seconds from running `ipcviz launch` (4 workers) to its first drawn frame."""
    import fcntl
    import pty
    import struct
    import termios

    scenario = HERE / "four.yaml"
    scenario.write_text("workers:\n  w: {count: 4, loop: true, steps: [{sleep: 0.1}]}\n")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ipcviz", "launch", str(scenario)],
                            stdin=slave, stdout=slave, stderr=slave, cwd=HERE.parent)
    os.close(slave)
    seen = b""
    painted = None
    while b"workers alive" not in seen:
        seen += os.read(master, 65536)
        if painted is None and b"ipcviz" in seen:
            painted = time.monotonic() - start
    elapsed = time.monotonic() - start
    os.write(master, b"q")
    proc.wait(10)
    os.close(master)
    scenario.unlink()
    return painted or elapsed, elapsed


def si(value: float) -> str:
    """1234567 -> '1.23 M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Measure ipcviz against its targets.")
    parser.add_argument("--memory-seconds", type=float, default=600,
                        help="length of the memory run (the target asks for 600)")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, bool | None]] = []

    print("instrumentation overhead ...", file=sys.stderr)
    for name, raws, ourss in overhead.run():
        raw, ours = overhead.median(raws), overhead.median(ourss)
        ratio = ours / raw
        rows.append((f"throughput ratio, {name}", ">= 0.90",
                     f"{ratio:.2f} (medians of {len(raws)}: ipcviz {si(ours)}/s "
                     f"[{si(min(ourss))}-{si(max(ourss))}], bare {si(raw)}/s "
                     f"[{si(min(raws))}-{si(max(raws))}])", ratio >= 0.9))

    print("start-up ...", file=sys.stderr)
    painted, frame = first_frame()
    rows.append(("`ipcviz launch` (4 workers) to first frame with data", "<= 1.0 s",
                 f"{frame:.2f} s (app drawn at {painted:.2f} s)", frame <= 1.0))
    fork64 = python(STARTUP, "64")
    rows.append(("64 workers running after the runtime starts", "<= 1.0 s", f"{fork64:.3f} s",
                 fork64 <= 1.0))

    print("sampler scale ...", file=sys.stderr)
    costs = {n: python(SCALE, str(n)) for n in (16, 64, 256)}
    per_worker = [costs[n] / n * 1e6 for n in costs]
    curve = ", ".join(f"{n}: {c * 1000:.1f} ms" for n, c in costs.items())
    linear = max(per_worker) <= 2 * min(per_worker)
    rows.append(("sampler cost per frame (16, 64, 256 workers)", "grows linearly",
                 f"{curve} ({min(per_worker):.0f}-{max(per_worker):.0f} µs per worker)", linear))

    print("UI cost (about 30 s) ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ui.yaml"
        ui_scenario(path)
        ui = asyncio.run(ui_measure(path))
        print(f"memory ({args.memory_seconds:.0f} s) ...", file=sys.stderr)
        mem = asyncio.run(memory_run(path, args.memory_seconds))
    rows.append((f"UI process CPU, {ui['workers']} workers, 16 pipes, 8 queues, 64x64 array",
                 "<= 25 % of one core", f"{ui['ui_cpu']:.0f} %", ui["ui_cpu"] <= 25))
    rows.append(("UI frames per second", ">= 10", f"{ui['fps']:.1f}", round(ui["fps"]) >= 10))
    rows.append(("signal received -> on screen, p95", "<= 100 ms",
                 f"{ui['latency_p95_ms']:.0f} ms (median {ui['latency_p50_ms']:.0f} ms, "
                 "40 signals)", ui["latency_p95_ms"] <= 100))
    grew = mem["rss_last"] - mem["rss_first"]
    rows.append((f"UI process RSS over {mem['seconds'] / 60:.0f} min of that load",
                 "< 200 MB, flat",
                 f"max {mem['rss_max']:.0f} MB; {mem['rss_first']:.0f} MB after the first "
                 f"minute, {mem['rss_last']:.0f} MB at the end",
                 mem["rss_max"] < 200 and grew <= 0.1 * mem["rss_first"]
                 and mem["seconds"] >= 590))
    rows.append(("worker unique memory (USS)", "< 8 MB each",
                 f"max {mem['uss_max']:.1f} MB, median {mem['uss_median']:.1f} MB "
                 f"({mem['workers']} workers)", 0 < mem["uss_max"] < 8))

    width = max(len(r[0]) for r in rows)
    for name, target, value, ok in rows:
        mark = "met" if ok else "NOT met"
        print(f"{name:<{width}}  target {target:<18} {value}  [{mark}]")
    write_readme(rows)


def write_readme(rows) -> None:
    table = ["| measure | target | this machine | met |", "|---|---|---|---|"]
    table += [f"| {n} | {t} | {v} | {'yes' if ok else '**no**'} |" for n, t, v, ok in rows]
    replace_block("results", table)

if __name__ == "__main__":
    main()
