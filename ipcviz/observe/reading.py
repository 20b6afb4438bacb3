"""One observation of a process tree: processes, descriptors, pipes, sockets, queues, memory."""

from __future__ import annotations

import os
import time

from . import fds as fd_reading
from . import memory, net, procs
from .model import Descriptor, Observation, Process


def _process(pid: int, kids: list[int], descriptors: list[Descriptor],
             states: dict[int, str]) -> Process | None:
    text = procs.read_text(f"/proc/{pid}/status")
    if text is None:
        return None
    status = procs.parse_status(text)
    state = (status.get("State", "?") or "?")[0]
    uids = status.get("Uid", "-1").split()
    cmdline = procs.read_text(f"/proc/{pid}/cmdline") or ""
    kinds = {d.fd: d.kind for d in descriptors}
    used = procs.usage(pid) if state != "Z" else None
    return Process(
        pid=pid, ppid=int(status.get("PPid", "0") or 0), name=status.get("Name", ""),
        state=state, state_words=procs.STATE_WORDS.get(state, state), uid=int(uids[0]),
        threads=int(status.get("Threads", "1") or 1),
        cmdline=tuple(x for x in cmdline.split("\0") if x), children=tuple(kids),
        zombies=sum(1 for k in kids if states.get(k) == "Z"),
        wait=procs.wait_of(pid, state, kinds), signals=procs.signal_masks(status),
        cpu_seconds=used[0] if used else None, rss=used[1] if used else None)


def _state(pid: int) -> str:
    stat = procs.read_text(f"/proc/{pid}/stat")
    return stat[stat.rfind(")") + 2] if stat else "?"


def observe(root: int, contents_limit: int = 4096, maps: bool = True) -> Observation:
    """Read the tree under `root` and its IPC from /proc once, and return it as plain data.

    Same-uid processes (or root) only; a process that vanishes mid-reading is left out.
    No signal is sent and no descriptor stays open after this returns. `contents_limit`
    bounds the bytes copied from each POSIX shared-memory segment (0: none). `maps=False`
    skips /proc/PID/maps (the dearest file: about half the cost) and so shared mappings,
    for a caller that reads them less often than every frame.
    """
    taken_at = time.monotonic()
    family = procs.tree(root)
    states = {pid: _state(pid) for pid, _ in family}
    problems: list[str] = []
    all_fds: list[Descriptor] = []
    processes: list[Process] = []
    for pid, kids in family:
        mine = fd_reading.descriptors_of(pid) if states[pid] != "Z" else []
        if not mine and states[pid] != "Z" and not os.access(f"/proc/{pid}/fd", os.R_OK):
            problems.append(f"pid {pid}: descriptors not readable (another user's process)")
        proc = _process(pid, kids, mine, states)
        if proc is not None:
            processes.append(proc)
            all_fds += mine
    pids = [p.pid for p in processes]
    mappings = memory.mappings([p.pid for p in processes if p.state != "Z"],
                               contents_limit) if maps else []
    uid = processes[0].uid if processes else os.getuid()
    return Observation(
        root=root, taken_at=taken_at, processes=tuple(processes), descriptors=tuple(all_fds),
        pipes=tuple(fd_reading.pipes(all_fds)),
        sockets=tuple(net.sockets(root, all_fds)) if processes else (),
        queues=tuple(fd_reading.queues(all_fds)), mappings=tuple(mappings),
        sysv=tuple(memory.sysv(pids, uid, mappings)), problems=tuple(problems))
