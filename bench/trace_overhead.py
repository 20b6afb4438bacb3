"""What `--trace` costs a program: the same loop of pipe writes and reads (64 bytes each,
one process) timed bare and under strace with the options ipcviz uses
(ipcviz/runtime/tracing.py), alternately, in one run. Prints the per-call times and the
ratio. Usage: python bench/trace_overhead.py [CALLS]"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from ipcviz.runtime.tracing import CALLS

LOOP = ("import os, sys\n"
        "r, w = os.pipe()\n"
        "b = b'x' * 64\n"
        "for _ in range(int(sys.argv[1])):\n"
        "    os.write(w, b); os.read(r, 64)\n")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trace.out")
        bare = [sys.executable, "-c", LOOP, str(n)]
        traced = ["strace", "-f", "-qq", "-s", "0", "-y", "-e", "trace=" + ",".join(CALLS),
                  "-o", out, *bare]
        empty = [sys.executable, "-c", "pass"]
        base = [timed(empty) for _ in range(3)]
        plain, under = [], []
        for _ in range(3):
            plain.append(timed(bare))
            under.append(timed(traced))
    start = statistics.median(base)
    per_plain = (statistics.median(plain) - start) / (2 * n) * 1e6
    per_traced = (statistics.median(under) - start) / (2 * n) * 1e6
    print(f"{2 * n} pipe calls: {per_plain:.2f} µs a call bare, {per_traced:.2f} µs under "
          f"strace: {per_traced / per_plain:.0f}x")


if __name__ == "__main__":
    main()
