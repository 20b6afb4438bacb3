"""A program's leak is only what it created during the run: `clean --program-leaks` never
deletes a queue or segment that existed before the run and that the program only opened,
nor an object put under a recorded name after the run."""

from __future__ import annotations

import json
import mmap
import os
import sys

import posix_ipc
import pytest

from .conftest import run_cli

PROGRAM = """
import mmap, sys, time, posix_ipc
old_q, new_q, old_shm, new_shm = sys.argv[1:5]
kept = [posix_ipc.MessageQueue(old_q)]                        # only opened
kept.append(posix_ipc.MessageQueue(new_q, posix_ipc.O_CREX))  # created
kept[-1].send(b"new")
for name, flags in ((old_shm, 0), (new_shm, posix_ipc.O_CREX)):
    shm = posix_ipc.SharedMemory(name, flags, size=4096 if flags else 0)
    kept.append(mmap.mmap(shm.fd, 4096))
print("ready", flush=True)
time.sleep(60)
"""


def _unlink_all(names: dict[str, str]) -> None:
    for name, kind in names.items():
        try:
            if kind == "mqueue":
                posix_ipc.unlink_message_queue(name)
            else:
                posix_ipc.unlink_shared_memory(name)
        except posix_ipc.ExistentialError:
            pass


def test_only_objects_created_during_the_run_are_the_programs_leaks(
        tmp_path, nothing_left_behind) -> None:
    """Before: the queue and the segment the program only opened were reported as its
    leaks and deleted by `clean --program-leaks` (the queue with its message)."""
    from ipcviz.host.ipc_listing import queue_listing

    if queue_listing() is None:  # then no queue can be proved created during the run
        pytest.skip("message queues cannot be listed here (no mqueue mount, not root)")
    tag = f"ipcviz_test_leak{os.getpid()}"
    names = {f"/{tag}_oldq": "mqueue", f"/{tag}_newq": "mqueue",
             f"/{tag}_oldshm": "shm", f"/{tag}_newshm": "shm"}
    old_q, new_q, old_shm, new_shm = names
    _unlink_all(names)
    try:
        queue = posix_ipc.MessageQueue(old_q, posix_ipc.O_CREX, mode=0o600)
        queue.send(b"there before the run")
        queue.close()
        posix_ipc.SharedMemory(old_shm, posix_ipc.O_CREX, mode=0o600, size=4096).close_fd()
        program = tmp_path / "leaky.py"
        program.write_text(PROGRAM)
        # 3 s: the mappings are read every 5th frame, and the program must be seen
        result = run_cli("watch", "--headless", "--json", "--duration", "3", "--",
                         sys.executable, str(program), *names, timeout=120)
        assert result.stdout, result.stderr
        summary = json.loads(result.stdout)
        assert summary["leaks"]["program_objects"] == [f"/dev/mqueue{new_q}",
                                                       f"/dev/shm{new_shm}"]
        # the new queue is put back by someone else under the same name after the run:
        # not the object written down, so not removed
        posix_ipc.unlink_message_queue(new_q)
        posix_ipc.MessageQueue(new_q, posix_ipc.O_CREX, mode=0o600).close()
        cleaned = run_cli("clean", "--program-leaks")
        assert f"removed /dev/shm{new_shm}" in cleaned.stdout.splitlines()
        assert f"refused: /dev/mqueue{new_q}: another object of that name since the run; " \
               "left alone" in cleaned.stderr.splitlines()
        assert not os.path.exists(f"/dev/shm{new_shm}")
        queue = posix_ipc.MessageQueue(old_q)
        assert queue.current_messages == 1 and queue.receive()[0] == b"there before the run"
        queue.close()
        segment = posix_ipc.SharedMemory(old_shm)
        assert os.fstat(segment.fd).st_size == 4096
        segment.close_fd()
        posix_ipc.MessageQueue(new_q).close()  # the newcomer is still there
    finally:
        _unlink_all(names)


@pytest.mark.skipif(os.geteuid() != 0, reason="listing queues without a mounted mqueue "
                    "file system needs a private mount namespace (root)")
def test_the_queues_are_listed_whether_or_not_mqueue_is_mounted() -> None:
    """Where /dev/mqueue is not mounted, the listing comes from a private mount of the
    child's own; the queue made here is in it under its inode, in every case."""
    from ipcviz.host.ipc_listing import queue_listing

    from .namespaces import MQUEUE_STATES, private_namespaces_possible, with_mqueue

    why = private_namespaces_possible()
    if why:
        pytest.skip(why)
    name = f"/ipcviz_test_list{os.getpid()}"
    queue = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, mode=0o600)
    try:
        inode = os.fstat(queue.mqd).st_ino

        def listed() -> None:
            assert queue_listing()[name[1:]] == inode

        for state in MQUEUE_STATES:
            with_mqueue(state, listed)
    finally:
        queue.close()
        queue.unlink()
