"""What a scenario can use at worst, worked out before anything starts.

Two budgets are checked when a file is loaded (so `validate`, `run` and `launch` all
refuse it, and nothing is created):
- processes: replicas, spawned children (nested spawns too), loops and restarts, against
  MAX_PROCESSES;
- memory and disk: shared arrays and semaphores in /dev/shm, mmap files and queue spools
  in the run directory's file system, POSIX queues against RLIMIT_MSGQUEUE (kernel memory).
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Iterator, Mapping

from ipcviz.format import format_bytes
from ipcviz.host import limits
from ipcviz.scenario import schema as s
from ipcviz.scenario.fields import MAX_CHANNEL_DESCRIPTORS
from ipcviz.scenario.kinds import CHANNELS, channel_class
from ipcviz.scenario.yamlpos import FieldPath

#: Every process of one run at once (workers, replicas and spawned children): the figure
#: the runtime enforces while the run lives.
MAX_PROCESSES = limits.MAX_PROCESSES
#: Children one worker may spawn (the runtime's telemetry rows per spawner, SPAWN_ROWS).
CHILD_CAP = 64
INF = math.inf

def _passes(worker: s.Worker) -> float:
    """How often a worker's steps run in one life (loop: n runs them max(1, n) times)."""
    if worker.loop is True or worker.restart != "never":
        return INF
    if worker.loop is False:
        return 1
    return max(1, int(worker.loop))


def step_counts(steps: list[s.Step], factor: float) -> Iterator[tuple[s.Step, float]]:
    """(step, how many times it runs at most) for every step, nested repeats included."""
    for step in steps:
        yield step, factor
        if step.kind == "repeat":
            times = step.args.times
            inner = INF if times == "forever" else factor * times
            yield from step_counts(step.args.steps, 0 if times == 0 else inner)


# ---------------------------------------------------------------- processes


def _processes_of(name: str, scn: s.Scenario, seen: tuple[str, ...]) -> float:
    """Processes one instance of `name` accounts for at worst: itself and its spawns."""
    if name in seen:
        return INF  # a spawned worker that (through others) spawns itself
    worker = scn.workers[name]
    spawns: list[tuple[float, float]] = []  # (times, processes each)
    for step, times in step_counts(worker.steps, _passes(worker)):
        if step.kind == "spawn" and step.args in scn.workers and times:
            spawns.append((times, _processes_of(step.args, scn, seen + (name,))))
    spawns.sort(key=lambda item: -item[1])
    left: float = CHILD_CAP
    total = 1.0
    for times, each in spawns:  # the cap counts spawns: the biggest ones first
        taken = min(left, times)
        total += taken * each
        left -= taken
    return total


def worst_processes(scn: s.Scenario) -> float:
    """Processes the scenario can have alive at once at worst (INF: no bound), counted as
    check_processes counts them."""
    return sum(worker.count * _processes_of(name, scn, ())
               for name, worker in scn.workers.items() if not worker.spawned)


def check_processes(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """The worst case of processes alive at once against MAX_PROCESSES."""
    parts, total = [], 0.0
    for name, worker in scn.workers.items():
        if worker.spawned or name not in scn.workers:
            continue
        each = _processes_of(name, scn, ())
        total += worker.count * each
        if each > 1:
            parts.append(f"{worker.count} x (1 + {_figure(each - 1)} spawned by {name})")
        else:
            parts.append(f"{worker.count} x {name}")
    if total > MAX_PROCESSES:
        amount = "no bound on the processes" if total == INF else \
            f"up to {_figure(total)} processes at once"
        yield (("workers",), f"{amount}; the limit is "
                             f"{MAX_PROCESSES} ({' + '.join(parts)}; a worker spawns at most "
                             f"{CHILD_CAP} children, counted in full when it loops or restarts)")


def _figure(n: float) -> str:
    return "unbounded" if n == INF else f"{int(n):,}"


# ---------------------------------------------------------------- memory and disk


def _read_limit(name: str) -> int | None:
    try:
        with open(f"/proc/sys/fs/mqueue/{name}") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def check_mqueue_limits(channels: dict) -> Iterator[tuple[FieldPath, str]]:
    """POSIX message queue limits, naming the /proc/sys setting to change (checked with
    the cross-references, before the budgets)."""
    queues = [name for name, ch in channels.items() if ch.kind == "mqueue"]
    queues_max = _read_limit("queues_max")
    if queues_max is not None and len(queues) > queues_max:
        yield (("channels", queues[queues_max]),
               f"{len(queues)} message queues; the kernel allows {queues_max} "
               "(/proc/sys/fs/mqueue/queues_max)")
    if os.geteuid() == 0:  # root (CAP_SYS_RESOURCE) is not held to msg_max/msgsize_max
        return
    msg_max, msgsize_max = _read_limit("msg_max"), _read_limit("msgsize_max")
    for name in queues:
        ch = channels[name]
        if msg_max is not None and ch.capacity > msg_max:
            yield (("channels", name, "capacity"),
                   f"{ch.capacity} messages; the kernel allows {msg_max} "
                   "(/proc/sys/fs/mqueue/msg_max)")
        if msgsize_max is not None and ch.message_size > msgsize_max:
            yield (("channels", name, "message_size"),
                   f"{ch.message_size} bytes; the kernel allows {msgsize_max} "
                   "(/proc/sys/fs/mqueue/msgsize_max)")



def run_root_candidates() -> list[str]:
    """Where the run directory will live: $IPCVIZ_RUN_ROOT, $XDG_RUNTIME_DIR/ipcviz,
    /tmp/ipcviz-UID (the first whose parent exists)."""
    out = []
    if os.environ.get("IPCVIZ_RUN_ROOT"):
        out.append(os.environ["IPCVIZ_RUN_ROOT"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        out.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "ipcviz"))
    out.append(f"/tmp/ipcviz-{os.getuid()}")
    return out


def _existing(path: str) -> str | None:
    """The path itself or its nearest existing ancestor."""
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return path


def run_root_filesystem() -> str | None:
    for candidate in run_root_candidates():
        if os.environ.get("IPCVIZ_RUN_ROOT") == candidate or os.path.isdir(
                os.path.dirname(candidate)):
            return _existing(candidate)
    return None


def free_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def margin(need: float) -> float:
    """Room left for the rest of the system (and for what the runtime itself writes)."""
    return min(need / 20, 64 * 1024 * 1024) + 256 * 1024


def _message_size(scn: s.Scenario, queue: str) -> int:
    """The largest message sent to a queue channel (its payload), 0 when none is."""
    sizes = [0]
    for worker in scn.workers.values():
        for step, _ in step_counts(worker.steps, 1):
            if step.kind == "send" and step.args.to == queue:
                sizes.append(len(step.args.payload_bytes()))
            if step.kind == "receive" and step.args.ack == queue:
                sizes.append(0)
    return max(sizes)


def _sends(scn: s.Scenario, queue: str) -> float:
    """How many messages can be sent to a queue in one run at most (INF: no bound)."""
    spawns = _spawn_totals(scn)
    total = 0.0
    for name, worker in scn.workers.items():
        instances = spawns.get(name, 0) if worker.spawned else worker.count
        for step, times in step_counts(worker.steps, _passes(worker)):
            if not times or not instances:
                continue
            if step.kind == "send" and step.args.to == queue:
                tries = 1 + (step.args.retries if step.args.ack is not None else 0)
                total += instances * times * tries
            elif step.kind == "receive" and step.args.ack == queue:
                total += instances * times
    return total


#: a `file` channel record's header (channels/file_channel.py: magic, length, crc32)
FILE_RECORD_HEADER = 12


def _file_bytes(scn: s.Scenario, channel: str) -> float:
    """How many bytes can be appended to a `file` channel in one run at most (INF: no
    bound); a `from_read` write counts as the most its worker's reads can return."""
    spawns = _spawn_totals(scn)
    total = 0.0
    for name, worker in scn.workers.items():
        instances = spawns.get(name, 0) if worker.spawned else worker.count
        reads = [st.args.bytes for st in s.all_steps(worker.steps) if st.kind == "read"]
        for step, times in step_counts(worker.steps, _passes(worker)):
            if not times or not instances or step.kind != "write" or step.args.to != channel:
                continue
            args = step.args
            size = (len(args.data.encode()) if args.data is not None else args.size
                    if args.size is not None else max(reads, default=65536))
            total += instances * times * (FILE_RECORD_HEADER + size)
    return total


def _spawn_totals(scn: s.Scenario) -> dict[str, float]:
    """Instances of each spawned definition at most, over the whole run."""
    out: dict[str, float] = {}
    for name, worker in scn.workers.items():
        if worker.spawned:
            continue
        for step, times in step_counts(worker.steps, _passes(worker)):
            if step.kind == "spawn" and times:
                out[step.args] = out.get(step.args, 0) + worker.count * min(times, CHILD_CAP)
    return out


class _Traffic:
    """What the scenario's steps put through one channel (channels/base.py `Traffic`)."""

    def __init__(self, scn: s.Scenario, name: str):
        self.scn, self.name = scn, name

    def appended(self) -> float:
        return _file_bytes(self.scn, self.name)

    def sends(self) -> float:
        return _sends(self.scn, self.name)

    def largest_message(self) -> int:
        return _message_size(self.scn, self.name)


def needs(scn: s.Scenario) -> tuple[dict[str, float], dict[str, float], dict[str, float],
                                     list[tuple[FieldPath, str]]]:
    """Bytes per channel in /dev/shm, in the run directory and in kernel queue memory,
    plus problems (a channel that has no bound at all), as each kind's class says
    (`Channel.room`)."""
    shm: dict[str, float] = {}
    disk: dict[str, float] = {}
    mq: dict[str, float] = {}
    problems: list[tuple[FieldPath, str]] = []
    for name, ch in scn.channels.items():
        room = channel_class(ch.kind).room(ch, _Traffic(scn, name))
        for place, taken in ((shm, room.shm), (disk, room.disk), (mq, room.kernel_queues)):
            if taken:
                place[name] = taken
        if room.unbounded is not None:
            where, line = room.unbounded
            problems.append((("channels", name, *where), line))
    return shm, disk, mq, problems


def check_space(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """What the scenario allocates against the free space where it will be allocated."""
    shm, disk, mq, problems = needs(scn)
    yield from problems
    places = []
    if shm:
        places.append(("/dev/shm", "/dev/shm", shm))
    root = run_root_filesystem()
    if disk and root is not None:
        places.append((root, "the run directory's file system", disk))
    if len(places) == 2 and _same_fs(places[0][0], places[1][0]):
        places = [(places[0][0], "/dev/shm (also the run directory's)", {**shm, **disk})]
    for path, label, parts in places:
        need = sum(parts.values())
        free = free_bytes(path)
        if free is None or need + margin(need) <= free:
            continue
        biggest = max(parts, key=lambda k: parts[k])
        ranked = sorted(parts.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{k} {format_bytes(v)}" for k, v in ranked[:3])
        if len(ranked) > 3:
            shown += f" and {len(ranked) - 3} more"
        yield (("channels", biggest), f"needs {format_bytes(need)} in {label}, "
                                      f"{format_bytes(free)} free ({shown}; "
                                      f"{format_bytes(margin(need))} is kept spare)")
    limit = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0]
    need = sum(mq.values())
    if mq and limit != resource.RLIM_INFINITY and need > limit:
        biggest = max(mq, key=lambda k: mq[k])
        yield (("channels", biggest), f"message queues need {format_bytes(need)} of kernel "
                                      f"memory; RLIMIT_MSGQUEUE allows {format_bytes(limit)} "
                                      "(`ulimit -q`)")


def _same_fs(a: str, b: str) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def descriptor_budget(channels: Mapping[str, s.Channel]) -> Iterator[tuple[FieldPath, str]]:
    """The descriptors the runtime holds for the channels must stay below select()'s limit."""
    held = [(name, CHANNELS[ch.kind].descriptors) for name, ch in channels.items()]
    total = sum(n for _, n in held)
    if total <= MAX_CHANNEL_DESCRIPTORS:
        return
    running = 0
    for name, n in held:
        running += n
        if running > MAX_CHANNEL_DESCRIPTORS:
            yield (("channels", name),
                   f"the channels hold {total} descriptors in the runtime (2 per pipe or "
                   f"FIFO, 1 per socket or mqueue); the limit is {MAX_CHANNEL_DESCRIPTORS}")
            return
