"""`ipcviz serve` in a real browser: how long a tab waits for its first frame, what an idle
tab costs the machine, and how fast a key press shows with many tabs running.

    python bench/serve.py                  (about 2 minutes)
    python bench/serve.py --tabs 8 --rounds 5

Needs Debian's chromium and the test extras (Playwright). A server runs on 127.0.0.1
with --max-sessions TABS; each figure comes from the browser's side (Playwright reads
the page's terminal, as tests/test_serve_browser.py does):
- first frame: from `goto` of /lesson/pipe_oneway until the page's workers table shows
  both workers with their pids (the app started, the run started, a frame drawn), in a
  fresh tab each round, the previous tab closed and its session ended first;
- idle CPU: the server process and the session processes over IDLE_SECONDS with TABS
  tabs open on the picker (an idle tab: no run), less the same with no tab, per tab;
- key to screen: TABS tabs each running STEADY (two workers passing 16 bytes through a
  pipe 20 times a second, for ever), then in each tab in turn space is pressed and timed
  until the page shows PAUSED (and again until it no longer does).
Measured, not asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.test_serve_browser import CHROMIUM, CHROMIUM_ARGS, READ_SCREEN  # noqa: E402

IDLE_SECONDS = 20.0
WORKERS = r"^\s*producer\s+\d+[\s\S]*^\s*consumer\s+\d+"
STEADY = """\
name: Steady
description: Two workers pass 16 bytes through a pipe 20 times a second, for ever.
channels:
  p: {kind: pipe}
workers:
  writer:
    loop: true
    steps:
      - write: {to: p, size: 16, every: 0.05}
  reader:
    loop: true
    steps:
      - read: {from: p, bytes: 16}
"""


def start_server(log: Path, tabs: int) -> tuple[subprocess.Popen, str]:
    lessons = log.parent / "lessons"
    lessons.mkdir(mode=0o700)
    (lessons / "steady.yaml").write_text(STEADY)
    out = open(log, "wb")
    server = subprocess.Popen([sys.executable, "-m", "ipcviz", "serve", "--port", "0",
                               "--max-sessions", str(tabs), "--scenarios", str(lessons)],
                              stdout=out, stderr=subprocess.STDOUT)
    out.close()
    for _ in range(300):
        found = re.search(r"ipcviz serve: (http://\S+)", log.read_text())
        if found:
            return server, found.group(1).rstrip("/")
        time.sleep(0.05)
    raise SystemExit(f"the server printed no address:\n{log.read_text()}")


def sessions(server: subprocess.Popen) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(server.pid).children():
        try:  # (an ended one is a zombie until the server reaps it: gone)
            if "ipcviz.serve.session" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_no_sessions(server: subprocess.Popen) -> None:
    for _ in range(600):
        if not sessions(server):
            return
        time.sleep(0.05)
    raise SystemExit("a session outlived its tab")


def wait_for(page, pattern: str, present: bool = True) -> None:
    check = "p => new RegExp(p, 'm').test(window.__ipcvizScreen())"
    page.wait_for_function(check if present else f"p => !({check})(p)", arg=pattern,
                           timeout=60_000, polling="raf")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def idle_cpu(server: subprocess.Popen, seconds: float) -> tuple[float, float]:
    """Per cent of one core used by the server process and by its sessions over
    `seconds` (the sessions' runs, if any, not counted)."""
    me, tabs = psutil.Process(server.pid), sessions(server)
    before = cpu_seconds([me]), cpu_seconds(tabs)
    time.sleep(seconds)
    after = cpu_seconds([me]), cpu_seconds(tabs)
    return ((after[0] - before[0]) / seconds * 100, (after[1] - before[1]) / seconds * 100)


def busy_split(server: subprocess.Popen, seconds: float) -> str:
    """CPU over `seconds` of the server, the session apps, their runs (runtime and
    workers) and the browser (every chromium process), as text."""
    tabs = sessions(server)
    runs = [child for tab in tabs for child in tab.children(recursive=True)]
    browser = [p for p in psutil.process_iter(["name"])
               if p.info["name"] and "chrom" in p.info["name"]]
    groups = {"server": [psutil.Process(server.pid)], "session apps": tabs, "runs": runs,
              "browser": browser}
    before = {name: cpu_seconds(procs) for name, procs in groups.items()}
    time.sleep(seconds)
    return ", ".join(f"{name} {(cpu_seconds(procs) - before[name]) / seconds * 100:.0f} %"
                     for name, procs in groups.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        server, url = start_server(Path(scratch) / "server.log", args.tabs)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch_persistent_context(
                    os.path.join(scratch, "profile"), executable_path=CHROMIUM,
                    headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 800})
                browser.add_init_script(READ_SCREEN)
                try:
                    measure(browser, server, url, args)
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(60)
    return 0


def measure(browser, server: subprocess.Popen, url: str, args: argparse.Namespace) -> None:
    loads, drawn, firsts = [], [], []
    for _ in range(args.rounds):
        page = browser.new_page()
        start = time.monotonic()
        page.goto(f"{url}/lesson/pipe_oneway")
        loads.append(time.monotonic() - start)
        wait_for(page, r"\? help")  # the app's first picture (its footer), before any data
        drawn.append(time.monotonic() - start)
        wait_for(page, WORKERS)
        firsts.append(time.monotonic() - start)
        page.close()
        wait_no_sessions(server)
    print(f"first frame of a lesson: median {statistics.median(firsts):.2f} s "
          f"[{min(firsts):.2f}-{max(firsts):.2f}] of {len(firsts)} tabs (page loaded "
          f"{statistics.median(loads):.2f} s, app drawn {statistics.median(drawn):.2f} s)")

    base_server, _ = idle_cpu(server, IDLE_SECONDS)
    pages = [browser.new_page() for _ in range(args.tabs)]
    for page in pages:
        page.goto(f"{url}/")
        wait_for(page, "pick a scenario")
    time.sleep(2.0)  # start-up done
    busy_server, busy_sessions = idle_cpu(server, IDLE_SECONDS)
    per_tab = (busy_server - base_server) / args.tabs
    print(f"idle tab (picker), CPU per tab: server {per_tab:.2f} % of a core, session "
          f"{busy_sessions / args.tabs:.2f} % (server alone, no tab: {base_server:.2f} %)")
    for page in pages:
        page.close()
    wait_no_sessions(server)

    pages = [browser.new_page() for _ in range(args.tabs)]
    for page in pages:
        page.goto(f"{url}/lesson/steady")
    for page in pages:
        wait_for(page, r"^\s*reader\s+\d+")
    time.sleep(2.0)
    print("  where the CPU goes meanwhile (% of one core over "
          f"{IDLE_SECONDS / 2:g} s): " + busy_split(server, IDLE_SECONDS / 2))
    presses = []
    for page in pages:
        page.focus(".xterm-helper-textarea")
        for present in (True, False):
            start = time.monotonic()
            page.keyboard.press("Space")
            wait_for(page, "PAUSED", present)
            presses.append(time.monotonic() - start)
    presses.sort()
    p95 = presses[min(len(presses) - 1, int(len(presses) * 0.95))]
    print(f"key to screen, {args.tabs} tabs each running a lesson: median "
          f"{statistics.median(presses) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max "
          f"{presses[-1] * 1000:.0f} ms ({len(presses)} presses)")
    for page in pages:
        page.close()
    wait_no_sessions(server)


if __name__ == "__main__":
    sys.exit(main())
