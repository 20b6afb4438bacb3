"""Sampler cost per worker per frame (issue 18's second target), in-process.

    python bench/sampler.py

Idle: the SCALE scenario of bench/run.py (16, 64 and 256 workers that only wait, a pipe per
four), the median of 60 frames 20 ms apart. Busy: the UI load of bench/run.py (64 workers
writing, reading, sending, receiving and incrementing), the median of 40 frames 100 ms
apart, the runtime's loop running between them as it does live. One frame in five also
reads every worker's signal masks (/proc/PID/status); the median leaves that frame out,
the mean (printed beside it) does not.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import ui_scenario  # noqa: E402

from ipcviz.runtime.sampler import Sampler  # noqa: E402
from ipcviz.runtime.supervisor import Runtime  # noqa: E402
from ipcviz.scenario.load import load_scenario, load_text  # noqa: E402


def frames(runtime: Runtime, count: int, gap: float) -> list[float]:
    sampler = Sampler(runtime)
    try:
        runtime.start()
        time.sleep(1.0)
        sampler.sample()
        took = []
        for _ in range(count):
            start = time.perf_counter()
            sampler.sample()
            took.append(time.perf_counter() - start)
            end = time.monotonic() + gap
            while time.monotonic() < end:
                runtime.poll(min(0.02, max(0.0, end - time.monotonic())))
        moments = getattr(sampler, "moments", None)  # one moment per frame (moment.py)
        if moments is not None:
            st = moments.stats
            print(f"      readings {st.readings}, read again {st.rereads}, an earlier "
                  f"moment shown {st.earlier}, unsettled {st.unsettled}, waiting for "
                  f"workers {st.waited / max(1, st.readings) * 1e3:.2f} ms a reading")
        return took
    finally:
        sampler.close()
        runtime.shutdown()


def report(what: str, n: int, took: list[float]) -> None:
    median, mean = statistics.median(took), statistics.fmean(took)
    print(f"{what:>5} {n:4d} workers: median {median * 1e3:6.2f} ms a frame = "
          f"{median / n * 1e6:5.1f} us a worker (mean {mean / n * 1e6:5.1f} us)")


def main() -> int:
    for n in (16, 64, 256):
        text = ("channels:\n" + "".join(f"  p{i}: {{kind: pipe}}\n" for i in range(n // 4))
                + f"workers:\n  w: {{count: {n}, handlers: {{SIGUSR1: count}}}}\n").encode()
        report("idle", n, frames(Runtime(load_text(text, "scale")), 60, 0.02))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ui.yaml"
        ui_scenario(path)
        report("busy", 64, frames(Runtime(load_scenario(str(path))), 40, 0.1))
    print("target: <= 50 us a worker a frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
