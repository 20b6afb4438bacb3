"""Where the bundled scenarios are, and what a name given on the command line means.

Kept apart from the loader (which needs pydantic) so that `ipcviz launch` can start the
runtime process before importing anything heavy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bundled_dir", "bundled_scenarios"]


def bundled_dir() -> Path:
    """Where the bundled scenarios are: inside the installed package, or the source tree."""
    packaged = resources.files("ipcviz") / "bundled_scenarios"
    try:
        if packaged.is_dir():
            return Path(str(packaged))
    except OSError:  # a package directory this user may not search: none is bundled there
        pass
    return Path(__file__).resolve().parents[2] / "scenarios"


#: the course's order, chapter by chapter (`ipcviz course`: course.py's CHAPTERS, the
#: same list): signals; pipes and FIFOs; message queues; sockets and RPC; shared memory,
#: races and locks; files and mmap; deadlock; putting it together. Others follow by name
COURSE_ORDER = (
    "signals_handlers", "signals_coalescing", "sigchld_zombies", "sigaction_flags",
    "pipe_oneway", "pipe_two_way", "pipe_bidirectional_race", "pipe_backpressure",
    "fifo_unrelated", "fifo_both_ways", "pipe_eof_never", "shell_pipeline",
    "mqueue_bounded", "sysv_message_types", "mailbox_indirect", "queue_capacity",
    "nonblocking_receive",
    "message_duplication",
    "socket_echo", "tcp_handshake", "udp_vs_tcp", "rpc_call",
    "fork_address_spaces", "shm_numpy", "shm_lifetime", "shm_signal_notify", "shm_counter_race",
    "race_by_hand",
    "counting_semaphore",
    "mmap_file", "mmap_window", "file_handoff",
    "deadlock", "deadlock_by_hand",
    "echo_store_server", "syscall_cost", "speed_race",
)


def _course_key(path: Path) -> tuple[int, str]:
    stem = path.stem
    return (COURSE_ORDER.index(stem) if stem in COURSE_ORDER else len(COURSE_ORDER), stem)


def bundled_scenarios() -> list[Path]:
    """Every bundled scenario file, in the course's order (COURSE_ORDER)."""
    directory = bundled_dir()
    return sorted(directory.glob("*.yaml"), key=_course_key) if directory.is_dir() else []
