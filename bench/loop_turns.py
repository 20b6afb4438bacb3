"""Every turn of a headless run's session loop, timed: when each wait, channel observation
and frame sample began and how long it took, for N busy workers with `duration: 2`, run
in this process. Shows where a run's end goes late (a first frame that waits for its
workers, a turn after the limit). Measured, never asserted.

    python bench/loop_turns.py 256          (turns past 1.5 s or longer than 20 ms)
    PYTHONPATH=../other-checkout python bench/loop_turns.py 256   (another tree)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ipcviz.runtime import headless
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_scenario

SCENARIO = """name: busy
duration: 2
channels:
  a: {{kind: shared_array, dtype: int64, shape: [1]}}
workers:
  w: {{count: {n}, loop: true, steps: [{{increment: {{array: a, index: 0}}}}]}}
"""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    log: list[tuple[str, float, float, Any]] = []

    def timed(owner: Any, attr: str, name: str) -> None:
        inner = getattr(owner, attr)

        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return inner(self, *args, **kwargs)
            finally:
                log.append((name, start, time.monotonic(), kwargs.get("kernel")))

        setattr(owner, attr, wrapped)

    timed(Runtime, "poll", "poll")
    timed(Runtime, "observe_channels", "observe")
    timed(Sampler, "sample", "sample")
    began: list[float] = []
    start = Runtime.start

    def start_and_note(self: Runtime) -> None:
        start(self)
        began.append(self.run_clock.t0)

    setattr(Runtime, "start", start_and_note)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "busy.yaml"
        path.write_text(SCENARIO.format(n=n))
        result = headless.run_headless(load_scenario(str(path)), None)
    t0 = began[0]
    for name, s, e, kernel in log:
        if s - t0 > 1.5 or e - s > 0.02:
            print(f"{name:8s} {s - t0:7.3f} {e - t0:7.3f} {1000 * (e - s):7.1f} ms"
                  + (f"  kernel={kernel}" if name == "sample" else ""))
    print(f"duration_s {result.summary['duration_s']}, cleanup_s {result.summary['cleanup_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
