"""`ipcviz serve` driven by a real browser: headless Chromium (Debian's package) through
Playwright, against a real server whose tabs run real processes.

The page's text is read from the terminal the page draws (xterm.js's buffer: an init
script keeps a reference to the page's terminal object as textual.js creates it). Each
test checks what the kernel says too: the workers' pids on the page are live processes
of that tab's session, and after the tab closes no process, /dev/shm entry or run
directory of it is left (nothing_left_behind). Skipped, with the reason, only where
Chromium or Playwright is missing (.ci/run installs both).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, _leftovers_by_key
from tests.waiting import wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None  # type: ignore[assignment]
    Page = object  # type: ignore[assignment,misc]

pytestmark = [
    pytest.mark.xdist_group("browser"),  # one worker, one browser, one server
    pytest.mark.skipif(sync_playwright is None,
                       reason="Playwright is not installed (pip install '.[test]')"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"),
]

#: Playwright's own launch options for a headless Chromium that talks to nothing but us
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: keeps the page's xterm Terminal (textual.js assigns it to `this.terminal`) and reads
#: its screen as text, one line per row
READ_SCREEN = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true,
                                             enumerable: true});
    if (value && value.buffer && value.onData && !window.__ipcvizTerminal)
      window.__ipcvizTerminal = value;
  },
});
window.__ipcvizScreen = () => {
  const terminal = window.__ipcvizTerminal;
  if (!terminal) return document.body ? document.body.innerText : "";
  const buffer = terminal.buffer.active, rows = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
};
"""
#: a lesson of the teacher's own (not bundled: outside a served session `e` edits it)
OWN_LESSON = """\
name: Own lesson
description: ORIGINAL words of a lesson of the teacher's own.
duration: 120
channels:
  p: {kind: pipe}
workers:
  writer:
    loop: true
    steps:
      - write: {to: p, size: 16, every: 0.1}
  reader:
    loop: true
    steps:
      - read: {from: p, bytes: 16}
"""
#: two workers that each finish a step at once: held at the start, `n` steps each exactly
#: once (not a sleep: a stepped sleep waits for the run clock, which stands still)
SLEEPERS = """\
name: Two counters
description: Each worker adds one to its own cell, for ever.
start: held
duration: 120
channels:
  c: {kind: shared_array, shape: [2]}
workers:
  left:
    loop: true
    steps:
      - increment: {array: c, index: 0, times: 1}
  right:
    loop: true
    steps:
      - increment: {array: c, index: 1, times: 1}
"""
#: a lesson that runs a program: a served session without --allow-exec never runs it
WITH_PROGRAM = """\
name: With a program
description: Runs a program that leaves a file.
duration: 30
workers:
  tool:
    exec: [touch, {marker}]
"""
SESSION_END = 30.0


def _start_server(log: Path, *args: str,
                  env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`ipcviz serve ARGS` on a free port, its output to `log` (a pipe nobody reads
    would fill and stop it); the process and the address it printed."""
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "ipcviz", "serve", "--port", "0",
                                   *args], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                  env=env)
    def printed() -> re.Match[str] | bool | None:  # (True: it ended without one)
        return re.search(r"ipcviz serve: (http://\S+)", log.read_text()) \
            or server.poll() is not None

    try:
        found = wait_until(printed, 30, message=lambda: f"an address:\n{log.read_text()}")
        if not isinstance(found, re.Match):
            raise AssertionError(f"it ended, no address printed:\n{log.read_text()}")
    except AssertionError:
        server.kill()
        server.wait()
        raise
    return server, found.group(1)


def _stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(SESSION_END)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One server for the module: bundled lessons and a directory of the teacher's own,
    two tabs at most, a $EDITOR that would leave a file if it ever ran."""
    base = tmp_path_factory.mktemp("served")
    lessons = base / "lessons"
    lessons.mkdir(mode=0o700)
    marker = base / "editor-ran"
    program_marker = base / "program-ran"
    (lessons / "own_lesson.yaml").write_text(OWN_LESSON)
    (lessons / "two_sleepers.yaml").write_text(SLEEPERS)
    (lessons / "with_program.yaml").write_text(WITH_PROGRAM.format(marker=program_marker))
    editor = base / "editor.sh"
    editor.write_text(f"#!/bin/sh\ntouch {marker}\n")
    editor.chmod(0o700)
    env = dict(os.environ, EDITOR=str(editor), VISUAL=str(editor))
    server, url = _start_server(base / "server.log", "--scenarios", str(lessons),
                                "--max-sessions", "2",
                                "--max-workers", "20", env=env)
    try:
        yield {"server": server, "url": url.rstrip("/"), "lessons": lessons,
               "log": base / "server.log",
               "marker": marker, "program_marker": program_marker}
    finally:
        _stop_server(server)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800})
        context.add_init_script(READ_SCREEN)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def nothing_left_behind():
    """conftest's check, less the browser's own processes (Chromium keeps a spare
    renderer process for the next tab): no process of a session, /dev/shm entry, run
    directory or cgroup of a run is left after the test."""
    def ours() -> dict[str, str]:
        return {key: text for key, text in _leftovers_by_key().items()
                if not any(name in text for name in ("chromium", "playwright"))}

    before = set(ours())
    yield
    left: list[str] = []

    def cleared() -> bool:  # (a session's cleanup may still be finishing)
        left[:] = [text for key, text in ours().items() if key not in before]
        return not left

    wait_until(cleared, 5, message=lambda: f"nothing left behind; left behind: {left}")


def screen(page: Page) -> str:
    return page.evaluate("window.__ipcvizScreen()")


def wait_text(page: Page, text: str, timeout: float = 30.0) -> str:
    """Wait until the page shows `text`; the whole screen then."""
    try:
        page.wait_for_function("text => window.__ipcvizScreen().includes(text)", arg=text,
                               timeout=timeout * 1000, polling=100)
    except Exception:
        raise AssertionError(f"{text!r} never shown; the page:\n{screen(page)}") from None
    return screen(page)


def wait_match(page: Page, pattern: str, timeout: float = 30.0) -> str:
    """Wait until a line of the page matches the regular expression `pattern`."""
    try:
        page.wait_for_function("p => new RegExp(p, 'm').test(window.__ipcvizScreen())",
                               arg=pattern, timeout=timeout * 1000, polling=100)
    except Exception:
        raise AssertionError(f"{pattern!r} never shown; the page:\n{screen(page)}") from None
    return screen(page)


def wait_absent(page: Page, text: str, timeout: float = 30.0) -> None:
    try:
        page.wait_for_function("text => !window.__ipcvizScreen().includes(text)", arg=text,
                               timeout=timeout * 1000, polling=100)
    except Exception:
        raise AssertionError(f"{text!r} still shown; the page:\n{screen(page)}") from None


def press(page: Page, key: str) -> None:
    page.focus(".xterm-helper-textarea")
    page.keyboard.press(key)


def sessions(server: subprocess.Popen) -> list[psutil.Process]:
    """The session processes the server runs now, one per open tab."""
    found = []
    for process in psutil.Process(server.pid).children():
        try:  # (an ended one is a zombie until the server reaps it: gone)
            if "ipcviz.serve.session" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def worker_pids(text: str, names: tuple[str, ...]) -> dict[str, int]:
    """The pid column of the workers table, for these workers."""
    found = {}
    for name in names:
        row = re.search(rf"^\s*{name}\s+(\d+)\s", text, re.M)
        assert row, f"no row for {name}:\n{text}"
        found[name] = int(row.group(1))
    return found


def descendants(process: psutil.Process) -> set[int]:
    try:
        return {p.pid for p in process.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def wait_gone(pids: set[int], timeout: float = SESSION_END) -> None:
    alive = list(pids)

    def gone() -> bool:
        alive[:] = [p for p in alive if _running(p)]
        return not alive

    wait_until(gone, timeout, message=lambda: f"every process gone; still running: {alive}")


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (its end not yet collected)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_no_sessions(server: subprocess.Popen, timeout: float = SESSION_END) -> None:
    """Every tab's session has ended (a tab closed or navigated away)."""
    wait_until(lambda: not sessions(server), timeout, message="no session: one outlived its tab")


@pytest.fixture
def open_tab(browser):
    """Opens a tab on a URL; whatever tabs a test leaves open (a failure) are closed
    after it, so that their sessions do not fill the next test's server."""
    pages: list[Page] = []

    def open_one(url: str) -> Page:
        page = browser.new_page()
        pages.append(page)
        page.goto(url)
        return page

    yield open_one
    for page in pages:
        if not page.is_closed():
            page.close()


def test_a_lesson_in_the_browser_starts_steps_and_ends_with_its_tab(
        served, browser, nothing_left_behind, open_tab) -> None:
    page = open_tab(f"{served['url']}/lesson/two_sleepers")
    text = wait_match(page, r"^\s*right\s+\d+")
    assert "HELD: press space to run, n to step" in text
    (session,) = sessions(served["server"])
    pids = worker_pids(text, ("left", "right"))
    assert set(pids.values()) <= descendants(session)  # the tab's own run, real processes
    press(page, "n")  # each of the two workers takes exactly one step
    wait_text(page, "│ step 2 ")
    press(page, "n")
    wait_text(page, "│ step 4 ")
    press(page, "Space")  # the run goes on by itself
    wait_absent(page, "PAUSED")
    press(page, "Space")
    wait_text(page, "PAUSED")
    press(page, "q")  # the run ends; the tab goes back to the picker
    wait_text(page, "pick a scenario")
    wait_gone(set(pids.values()))
    press(page, "Enter")  # the first lesson of the course, a new run in the same tab
    text = wait_match(page, r"^\s*stubborn\s+\d+")
    run = set(worker_pids(text, ("stubborn", "polite", "counter")).values())
    assert run <= descendants(session)
    page.close()
    wait_gone({session.pid} | run)
    wait_no_sessions(served["server"])


def test_two_tabs_get_two_runs_and_a_third_is_refused(
        served, browser, nothing_left_behind, open_tab) -> None:
    # (a lesson whose workers live on: a bundled one's could end while the other tab opens)
    first = open_tab(f"{served['url']}/lesson/own_lesson")
    second = open_tab(f"{served['url']}/lesson/own_lesson")
    first_pids = worker_pids(wait_match(first, r"^\s*reader\s+\d+"), ("writer", "reader"))
    second_pids = worker_pids(wait_match(second, r"^\s*reader\s+\d+"), ("writer", "reader"))
    tabs = sessions(served["server"])
    assert len(tabs) == 2
    assert not set(first_pids.values()) & set(second_pids.values())
    owners = {pid: next(s.pid for s in tabs if pid in descendants(s))
              for pid in (*first_pids.values(), *second_pids.values())}
    assert owners[first_pids["writer"]] == owners[first_pids["reader"]]
    assert owners[second_pids["writer"]] == owners[second_pids["reader"]]
    assert owners[first_pids["writer"]] != owners[second_pids["writer"]]
    press(first, "Space")  # one tab paused: the other's run goes on
    wait_text(first, "PAUSED")
    assert "PAUSED" not in screen(second)
    third = browser.new_page()
    response = third.goto(f"{served['url']}/")
    assert response is not None and response.status == 503
    assert "all 2 sessions of this server are in use" in third.inner_text("body")
    third.close()
    run = {s.pid for s in tabs} | set().union(*(descendants(s) for s in tabs))
    first.close()
    second.close()
    wait_gone(run)
    wait_no_sessions(served["server"])


def test_keys_that_would_reach_the_server_start_nothing(
        served, browser, nothing_left_behind, open_tab) -> None:
    page = open_tab(f"{served['url']}/lesson/own_lesson")
    wait_text(page, "ORIGINAL words")
    (session,) = sessions(served["server"])
    before = descendants(session)
    press(page, "e")  # $EDITOR on the file, outside a served session
    wait_text(page, "not in a served session: an editor")
    time.sleep(1.0)  # no condition: nothing should happen (no event says "no editor")
    assert not served["marker"].exists()
    assert descendants(session) <= before  # nothing new was started
    # the file changes on disk: neither the watch nor ctrl+r reads it again
    lesson = served["lessons"] / "own_lesson.yaml"
    lesson.write_text(OWN_LESSON.replace("ORIGINAL", "CHANGED"))
    time.sleep(2.5)  # no condition: the watch should let it pass (no event says so)
    press(page, "Control+r")
    wait_text(page, "restarted from the beginning")
    wait_text(page, "writer")
    text = screen(page)
    assert "ORIGINAL words" in text and "CHANGED" not in text
    lesson.write_text(OWN_LESSON)
    # a lesson that runs a program, and one over the server's process cap: refused
    press(page, "q")
    wait_text(page, "pick a scenario")
    page.goto(f"{served['url']}/lesson/with_program")
    wait_text(page, "with_program: worker 'tool'")  # (the toast's first line)
    wait_text(page, "pick a scenario")
    page.goto(f"{served['url']}/lesson/sigchld_zombies")
    wait_text(page, "sigchld_zombies: it has up to 22")
    wait_text(page, "pick a scenario")
    assert not served["program_marker"].exists()
    page.close()
    wait_gone({session.pid} | before)
    wait_no_sessions(served["server"])


def test_elsewhere_every_request_needs_the_token_and_runs_end_at_the_cap(
        browser, nothing_left_behind, open_tab, tmp_path: Path) -> None:
    server, url = _start_server(tmp_path / "server.log", "--host", "127.0.0.2",
                                "--max-run", "3")
    try:
        token = re.search(r"\?token=(\S+)$", url)
        assert token, url
        base = url.split("?")[0].rstrip("/")
        for path in ("/", "/lesson/pipe_oneway", "/ws", "/static/js/textual.js",
                     f"/?token={token.group(1)[:-1]}"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 403
            assert b"needs its token" in refused.value.read()
        page = open_tab(f"{base}/lesson/pipe_oneway?token={token.group(1)}")
        text = wait_text(page, "consumer")  # the page's script and socket used the cookie
        pids = set(worker_pids(text, ("producer", "consumer")).values())
        wait_text(page, "served time limit (3 s)")
        wait_text(page, "pick a scenario")
        wait_gone(pids)
        (session,) = sessions(server)
        press(page, "Enter")  # a new run; then the server stops with the tab still open
        run = set(worker_pids(wait_match(page, r"^\s*stubborn\s+\d+"),
                              ("stubborn", "polite", "counter")).values())
        _stop_server(server)
        assert server.returncode == 0
        wait_gone({session.pid} | run)
        page.close()
    finally:
        _stop_server(server)


def test_a_request_naming_another_host_or_from_another_site_is_refused(served) -> None:
    """No browser needed: what a page of another site (or one re-pointed at 127.0.0.1)
    would send."""
    port = served["url"].rsplit(":", 1)[1]
    for headers in ({"Host": f"rebound.example:{port}"},
                    {"Origin": "http://elsewhere.example"}):
        request = urllib.request.Request(f"{served['url']}/ws", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    with urllib.request.urlopen(f"{served['url']}/", timeout=10) as page:
        assert page.status == 200
    assert sessions(served["server"]) == []
