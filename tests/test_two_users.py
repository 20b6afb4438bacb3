"""Two users on one teaching server: one user's ipcviz must not be stopped, nor made to
touch the other user's objects, by names the other planted (red-team round after issue 12).

The names of a run's POSIX objects (`/dev/shm/ipcviz.<run id>.<channel>`) are public:
anyone can list /dev/shm, see a run's id as soon as its first object exists and create
the next names first (the scenario's channel names are in the file, often a bundled
one). These tests plant those names for real as another uid (nobody, 65534) before the
run creates them.
"""

from __future__ import annotations

import os
import secrets
import stat

import posix_ipc
import pytest

from ipcviz.host import registry as registry_module
from ipcviz.host import sweep as sweep_module
from ipcviz.host.process import become_subreaper
from ipcviz.host.registry import Registry
from ipcviz.host.sweep import sweep_dead_runs
from ipcviz.scenario.load import load_text

from .namespaces import MQUEUE_STATES, private_namespaces_possible, with_mqueue
from .users import NOBODY, as_nobody

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating objects owned by another "
                                "uid (setuid in a forked child) needs root")

SCENARIO = b"""\
duration: 3
channels:
  counter: {kind: shared_array, dtype: int64, shape: [1]}
  mutex: {kind: semaphore, value: 1}
  box: {kind: queue, capacity: 2}
  jobs: {kind: mqueue, capacity: 4, message_size: 64}
workers:
  adder:
    steps:
      - increment: {array: counter, times: 1000, lock: mutex}
  producer:
    steps:
      - repeat: {times: 5, steps: [{send: {to: box, data: "x"}}, {send: {to: jobs, data: "y"}}]}
  consumer:
    steps:
      - repeat: {times: 5, steps: [{receive: {from: box}}, {receive: {from: jobs}}]}
expect:
  - {channel: counter, index: [0], equals: 1000}
  - {channel: mutex, value: 1}
  - {worker: consumer, exit: 0}
"""




def planted_names(run_id: str) -> dict[str, str]:
    """What the squatter creates: /dev/shm path (or queue name) -> kind."""
    return {f"/dev/shm/ipcviz.{run_id}.counter": "file",
            f"/dev/shm/sem.ipcviz.{run_id}.mutex": "file",
            f"/dev/shm/sem.ipcviz.{run_id}.box.items": "file",
            f"/ipcviz.{run_id}.jobs": "mqueue"}


def plant(run_id: str) -> None:
    """As nobody: create every name the run is about to use, open to everyone (0666)."""
    def action() -> None:
        os.umask(0)
        for where, kind in planted_names(run_id).items():
            if kind == "file":
                fd = os.open(where, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
                os.write(fd, b"squatter")
                os.close(fd)
            else:
                posix_ipc.MessageQueue(where, posix_ipc.O_CREX, mode=0o666).close()
    as_nobody(action)


def remove_planted(run_id: str) -> None:
    for where, kind in planted_names(run_id).items():
        try:
            if kind == "file":
                os.unlink(where)
            else:
                posix_ipc.unlink_message_queue(where)
        except (FileNotFoundError, posix_ipc.ExistentialError):
            pass


def planted_intact(run_id: str) -> list[str]:
    """The planted objects that still exist, still nobody's (files keep their bytes)."""
    intact = []
    for where, kind in planted_names(run_id).items():
        if kind == "file":
            try:
                info = os.lstat(where)
                with open(where, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if info.st_uid == NOBODY and stat.S_ISREG(info.st_mode) and data == b"squatter":
                intact.append(where)
        else:
            try:
                queue = posix_ipc.MessageQueue(where, write=False)
            except posix_ipc.ExistentialError:
                continue
            try:
                if os.fstat(queue.mqd).st_uid == NOBODY:
                    intact.append(where)
            finally:
                queue.close()
    return intact


@pytest.fixture
def known_run_id(monkeypatch: pytest.MonkeyPatch):
    """The next run id this process makes (the squatter learns it from /dev/shm in real
    life; here it is fixed so the planting always wins the race). Later random suffixes
    stay random."""
    token = secrets.token_hex(3)
    real = secrets.token_hex
    calls = []

    def first_fixed(nbytes: int = 3) -> str:
        calls.append(nbytes)
        return token if len(calls) == 1 else real(nbytes)

    monkeypatch.setattr(registry_module.secrets, "token_hex", first_fixed)
    run_id = f"{os.getpid()}-{token}"
    yield run_id
    remove_planted(run_id)  # torn down before nothing_left_behind (asked for first) looks


@needs_root
def test_names_planted_by_another_user_do_not_stop_the_run(nothing_left_behind,
                                                           known_run_id: str) -> None:
    """Before the fix: "cannot start: A semaphore with the specified name already exists"
    (and, as root, the cleanup after that failure unlinked nobody's planted objects)."""
    from ipcviz.runtime.headless import run_headless

    plant(known_run_id)
    try:
        result = run_headless(load_text(SCENARIO, "squat.yaml"))
    finally:
        become_subreaper(False)
    summary = result.summary
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
    failed = [e for e in summary["expect"] if not e["ok"]]
    assert failed == [], failed
    assert summary["workers"]["consumer"]["exit"] == 0
    # the other user's objects are theirs: untouched by the run and its cleanup
    assert sorted(planted_intact(known_run_id)) == sorted(planted_names(known_run_id))


def _register_planted(reg: Registry, run_id: str) -> None:
    """Registry entries naming every planted object (written before creation: a crash in
    between leaves them)."""
    for where, kind in planted_names(run_id).items():
        if kind == "mqueue":
            reg.add("mqueue", where)
        elif "/sem." in where:
            reg.add("semaphore", "/" + where.removeprefix("/dev/shm/sem."))
        else:
            reg.add("shm", "/" + where.removeprefix("/dev/shm/"))


def _dead_run_with_planted_entries() -> str:
    """A run directory made by a child that then died (so the sweep takes it up), whose
    registry names the objects planted for its run id; returns the run id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            reg = Registry.create()
            _register_planted(reg, reg.run_id)
            os.write(write, reg.run_id.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        run_id = fh.read().decode()
    os.waitpid(pid, 0)
    return run_id


@needs_root
@pytest.mark.parametrize("mqueue", MQUEUE_STATES)
def test_cleanup_never_removes_another_users_object_named_in_our_registry(
        nothing_left_behind, known_run_id: str, mqueue: str) -> None:
    """A registry entry naming an object another uid created under our run's name is not
    ours: neither the run's own cleanup nor the sweep of a dead run removes it, even as
    root, whether /dev/mqueue is mounted, an empty unmounted directory (before: the
    queue's owner was looked for there, not found, and the queue deleted as ours) or
    absent. Ownership is the kernel's answer for the object's own descriptor."""
    why = private_namespaces_possible()
    if why:
        pytest.skip(why)
    plant(known_run_id)
    reg = Registry.create()
    assert reg.run_id == known_run_id
    _register_planted(reg, known_run_id)
    with_mqueue(mqueue, reg.remove_all)
    assert sorted(planted_intact(known_run_id)) == sorted(planted_names(known_run_id))
    assert not reg.directory.exists()
    dead = _dead_run_with_planted_entries()
    try:
        plant(dead)
        with_mqueue(mqueue, sweep_dead_runs)
        assert sorted(planted_intact(dead)) == sorted(planted_names(dead))
    finally:
        remove_planted(dead)


# ------------------------------------------------------------------ where the root lives


def _cli(root: str, *args: str):
    import subprocess
    import sys

    from .conftest import ROOT

    env = dict(os.environ, IPCVIZ_RUN_ROOT=root)
    return subprocess.run([sys.executable, "-m", "ipcviz", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


@needs_root
def test_a_root_whose_directory_others_can_swap_it_in_is_refused(nothing_left_behind) -> None:
    """IPCVIZ_RUN_ROOT inside a directory every user may write (no sticky bit), or inside
    another user's directory: that user can rename our root away and put a link or a
    directory of theirs in its place between our lstat and our use (before: accepted, and
    the run made its directory, registry and channel files there)."""
    import shutil
    import tempfile

    scenario = os.path.join(os.path.dirname(__file__), "..", "scenarios", "pipe_oneway.yaml")
    shared = tempfile.mkdtemp(prefix="ipcviz-open-", dir="/tmp")
    try:
        os.chmod(shared, 0o777)  # like a class directory everyone may write
        root = os.path.join(shared, "root")
        result = _cli(root, "run", scenario, "--headless", "--duration", "0.3")
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"run root {root}: its directory {shared} (mode 0777) is writable by others "
            "and not sticky: anyone could swap the root; refusing to use it"]
        assert os.listdir(shared) == []
        os.chmod(shared, 0o755)
        os.chown(shared, NOBODY, NOBODY)  # another user's directory
        result = _cli(root, "clean")
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"run root {root}: its directory {shared} belongs to uid {NOBODY}, who could "
            "swap the root; refusing to use it"]
        assert os.listdir(shared) == []
        os.chmod(shared, 0o1777)  # sticky, like /tmp: only the owner of the entry (and of
        os.chown(shared, 0, 0)  # the directory) may rename it
        result = _cli(root, "run", scenario, "--headless", "--duration", "0.3")
        assert result.returncode == 0, result.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# ------------------------------------------------------------------ pid reuse


@needs_root
def test_a_pid_reused_between_the_check_and_the_kill_is_not_signalled() -> None:
    """ProcessIdentity.send checked the start time, then called kill(pid): a process that
    ended in between and whose pid went to a newcomer got the newcomer killed (the sweep
    and every shutdown send SIGKILL this way). The probe forces the reuse inside that
    window in a private pid namespace (ns_last_pid); send now pins the process with a pidfd
    before checking it."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    here = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                             os.path.join(here, "pid_reuse_probe.py"), os.path.dirname(here)],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0 and "unshare failed" in result.stderr:
        pytest.skip(f"no pid namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "newcomer alive"


# ------------------------------------------------------------------ registry growth


def test_the_registry_grows_by_one_line_per_object(monkeypatch: pytest.MonkeyPatch,
                                                   nothing_left_behind) -> None:
    """Each object used to rewrite the whole registry: 8,000 semaphores (a 215 KB file,
    far under the 1 MB limit) took 118 s to start a 1 s scenario, and a 1 MB file would
    take most of an hour. Now each object appends one line; what a sweep reads back is
    the same list (a torn last line, an object never created, is left out; a name taken
    by another user is taken back)."""
    written = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        written.append(len(data))
        return real_write(fd, data)

    reg = Registry.create()
    monkeypatch.setattr(registry_module.os, "write", counting_write)
    try:
        for i in range(2000):
            reg.add("semaphore", f"{reg.ipc_name('s')}{i}")
        reg._forget("semaphore", f"{reg.ipc_name('s')}1999")
        monkeypatch.undo()
        assert sum(written) < 2001 * 100, sum(written)  # about 60 bytes an object, not N^2
        raw = (reg.directory / registry_module.REGISTRY_FILE).read_bytes()
        data = sweep_module._parse_registry(raw + b'{"kind": "semaphore", "na', reg.run_id)
        assert data is not None
        assert data["objects"] == reg.objects and len(reg.objects) == 1999
    finally:
        monkeypatch.undo()
        reg.remove_all()
