"""Whose a POSIX IPC object is, as the kernel answers it for the object itself.

Cleanup removes an object only when it is ours, and root may remove anyone's, so the
answer must come from the object and never from a guess: a message queue is opened by
name and its descriptor (a file descriptor on Linux) is fstat'ed, whether or not the
mqueue file system is mounted anywhere; a shared memory segment or a semaphore is its
/dev/shm file, opened without following a link and fstat'ed. When the kernel gives no
answer the owner is UNKNOWN, which is never ours.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

#: the owner could not be read (not a regular file, a link, no permission to open it)
UNKNOWN = -1


def ipc_owner(kind: str, name: str) -> int | None:
    """The uid owning the IPC object `name` ("/x") of `kind` ("shm", "semaphore",
    "mqueue", "sysv_msg"); None when no such object exists; UNKNOWN when it exists (or may) and the
    kernel would not say whose it is."""
    found = ipc_identity(kind, name)
    return None if found is None else found[0]


def ipc_identity(kind: str, name: str) -> tuple[int, int] | None:
    """(owner uid, inode) of the POSIX IPC object `name` of `kind`, from a descriptor of
    the object itself; None when there is none; (UNKNOWN, 0) when the kernel would not
    say."""
    if kind == "mqueue":
        return _queue_identity(name)
    if kind == "sysv_msg":
        return _sysv_queue_identity(name)
    bare = name[1:] if name.startswith("/") else name
    if not bare or "/" in bare:
        return UNKNOWN, 0
    return file_identity(f"/dev/shm/{bare}" if kind == "shm" else f"/dev/shm/sem.{bare}")


def file_identity(path: str) -> tuple[int, int] | None:
    """(owner, inode) of the regular file `path`, from a descriptor opened without
    following a link or blocking; None when there is nothing at `path`; (UNKNOWN, 0) for
    anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                     | os.O_NOCTTY)
    except OSError as exc:
        return None if exc.errno == errno.ENOENT else (UNKNOWN, 0)
    try:
        info = os.fstat(fd)
    except OSError:
        return UNKNOWN, 0
    finally:
        os.close(fd)
    return (info.st_uid, info.st_ino) if stat.S_ISREG(info.st_mode) else (UNKNOWN, 0)


def _queue_identity(name: str) -> tuple[int, int] | None:
    """(owner, inode) of the message queue `name`: its descriptor's fstat (mq_open without
    O_CREAT: opening never changes a queue)."""
    import posix_ipc

    try:
        queue = posix_ipc.MessageQueue(name, read=True, write=False)
    except posix_ipc.ExistentialError:
        return None
    except (posix_ipc.Error, ValueError, OSError):
        return UNKNOWN, 0  # there (or a bad name), and not ours to open: not ours
    try:
        info = os.fstat(queue.mqd)
        return info.st_uid, info.st_ino
    except (OSError, TypeError):
        return UNKNOWN, 0
    finally:
        queue.close()


def sysv_key(name: str) -> int:
    """The System V IPC key of the object named `name` (a name of the run, as for POSIX
    objects): a number from the name's hash, never IPC_PRIVATE (0). The registry holds
    the name, so the sweep finds the key again; another name gives another key."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 0x7FFFFFFE + 1


def _sysv_queue_identity(name: str) -> tuple[int, int] | None:
    """(owner, msqid) of the System V message queue whose key `name` gives (msgget
    without IPC_CREAT: looking never creates one)."""
    import sysv_ipc

    try:
        queue = sysv_ipc.MessageQueue(sysv_key(name))
    except sysv_ipc.ExistentialError:
        return None
    except (sysv_ipc.Error, ValueError, OSError):
        return UNKNOWN, 0  # there, and not ours to open: not ours
    return queue.uid, queue.id


def is_ours(kind: str, name: str) -> bool:
    """True only when the object exists and the kernel says it is our uid's."""
    return ipc_owner(kind, name) == os.getuid()
