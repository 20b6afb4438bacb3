"""Descriptors from /proc/PID/fd and fdinfo: pipes and FIFOs paired by inode, message queues.

Fill levels come from a momentary reopen of /proc/PID/fd/N (O_RDONLY | O_NONBLOCK, closed
before the next line runs): FIONREAD and F_GETPIPE_SZ read nothing from the pipe, and a
message queue's file prints its byte count and answers mq_getsetattr without taking a message.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import stat
import termios

from .model import Descriptor, End, MessageQueue, Pipe

F_GETPIPE_SZ = 1032
_SYS_MQ_GETSETATTR = 245 if platform.machine() == "x86_64" else 185
_libc = ctypes.CDLL(None, use_errno=True)


class _MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("reserved", ctypes.c_long * 4)]


_MODES = {os.O_RDONLY: "r", os.O_WRONLY: "w", os.O_RDWR: "rw"}

#: Devices found to be the message-queue file system (an mq fd's mount is internal).
_mqueue_devices: set[int] = set()


def _fdinfo(pid: int, fd: int) -> tuple[str, int]:
    """(mode, mnt_id) of a descriptor from /proc/PID/fdinfo/FD."""
    mode, mnt_id = "", -1
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("flags:"):
                    mode = _MODES.get(int(line.split()[1], 8) & os.O_ACCMODE, "")
                elif line.startswith("mnt_id:"):
                    mnt_id = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return mode, mnt_id


def _link_mode(pid: int, fd: int) -> str:
    """Access mode of a descriptor from its /proc link's own permission bits (the kernel
    sets S_IRUSR / S_IWUSR from the open file's mode): cheaper than reading fdinfo."""
    try:
        bits = os.lstat(f"/proc/{pid}/fd/{fd}").st_mode
    except OSError:
        return ""
    return ("r" if bits & stat.S_IRUSR else "") + ("w" if bits & stat.S_IWUSR else "")


def _mount_ids(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/mountinfo") as f:
            return {int(line.split(None, 1)[0]) for line in f}
    except OSError:
        return set()


def _reopen(pid: int, fd: int, inode: int) -> int:
    """A momentary read-only, non-blocking descriptor on what /proc/PID/fd/N points at.

    The program may have put another file on N since it was classified (dup2): the inode
    is checked so a reading meant for a queue's file never reads from a pipe instead.
    """
    handle = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if os.fstat(handle).st_ino == inode:
            return handle
    except OSError:
        pass
    os.close(handle)
    raise FileNotFoundError(f"/proc/{pid}/fd/{fd} changed")


def _is_mqueue(pid: int, fd: int, st: os.stat_result, mnt_id: int, mounts: set[int]) -> bool:
    """An mq descriptor: a regular file on a mount the process cannot see, printing QSIZE."""
    if st.st_dev in _mqueue_devices:
        return True
    if mnt_id in mounts:
        return False
    text = _read_small(pid, fd, st.st_ino)
    if text.startswith("QSIZE:"):
        _mqueue_devices.add(st.st_dev)
        return True
    return False


def _read_small(pid: int, fd: int, inode: int) -> str:
    try:
        handle = _reopen(pid, fd, inode)
    except OSError:
        return ""
    try:
        return os.read(handle, 256).decode("ascii", "replace")
    except OSError:
        return ""
    finally:
        os.close(handle)


def descriptors_of(pid: int) -> list[Descriptor]:
    """Every descriptor of one process, classified (an empty list when it cannot be read)."""
    try:
        fds = [int(n) for n in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return []
    out = []
    mounts: set[int] | None = None
    for fd in sorted(fds):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:["):
            mode = _link_mode(pid, fd)
            out.append(Descriptor(pid, fd, "pipe", target, mode, int(target[6:-1])))
            continue
        if target.startswith("socket:["):
            out.append(Descriptor(pid, fd, "socket", target, "", int(target[8:-1])))
            continue
        if not target.startswith("/"):
            out.append(Descriptor(pid, fd, "anon", target))
            continue
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        mode = _link_mode(pid, fd)
        if stat.S_ISFIFO(st.st_mode):
            kind = "fifo"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir"
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = "device"
        elif stat.S_ISREG(st.st_mode):
            kind = "file"
            # A queue's link is "/NAME" (one slash); its file is small and prints QSIZE.
            if st.st_dev in _mqueue_devices:
                kind = "mqueue"
            elif target.count("/") == 1 and st.st_size <= 4096:
                if mounts is None:
                    mounts = _mount_ids(pid)
                if _is_mqueue(pid, fd, st, _fdinfo(pid, fd)[1], mounts):
                    kind = "mqueue"
        else:
            kind = "other"
        out.append(Descriptor(pid, fd, kind, target, mode, st.st_ino))
    return out


def pipe_levels(pid: int, fd: int, inode: int) -> tuple[int | None, int | None]:
    """(bytes buffered, capacity) of a pipe or FIFO, through a momentary read-only reopen."""
    try:
        handle = _reopen(pid, fd, inode)
    except OSError:
        return None, None
    try:
        buf = bytearray(4)
        fcntl.ioctl(handle, termios.FIONREAD, buf, True)
        return int.from_bytes(buf, "little", signed=True), fcntl.fcntl(handle, F_GETPIPE_SZ)
    except OSError:
        return None, None
    finally:
        os.close(handle)


def pipes(descriptors: list[Descriptor]) -> list[Pipe]:
    """Pipes and FIFOs grouped by inode, with holders and fill level.

    The level is read only through an end that is already open for reading: reopening a
    pipe nobody reads would, for that moment, spare a writer its EPIPE, and reopening a
    FIFO for reading would release a writer blocked in open().
    """
    groups: dict[int, list[Descriptor]] = {}
    for d in descriptors:
        if d.kind in ("pipe", "fifo"):
            groups.setdefault(d.inode, []).append(d)
    out = []
    for inode, ends in sorted(groups.items()):
        buffered = capacity = None
        for d in ends:
            if "r" in d.mode:
                buffered, capacity = pipe_levels(d.pid, d.fd, d.inode)
                if buffered is not None:
                    break
        first = ends[0]
        out.append(Pipe(inode=inode, kind=first.kind,
                        path=first.target if first.kind == "fifo" else None,
                        ends=tuple(End(d.pid, d.fd, d.mode) for d in ends),
                        buffered=buffered, capacity=capacity))
    return out


def queue_attributes(pid: int, fd: int, inode: int) -> tuple[int | None, ...]:
    """(depth, capacity, message size, queued bytes) of a message queue descriptor."""
    try:
        handle = _reopen(pid, fd, inode)
    except OSError:
        return None, None, None, None
    try:
        text = os.read(handle, 256).decode("ascii", "replace")
        qsize = int(text.split()[0].partition(":")[2]) if text.startswith("QSIZE:") else None
        attr = _MqAttr()
        if _libc.syscall(_SYS_MQ_GETSETATTR, handle, None, ctypes.byref(attr)) != 0:
            return None, None, None, qsize
        return attr.curmsgs, attr.maxmsg, attr.msgsize, qsize
    except (OSError, ValueError):
        return None, None, None, None
    finally:
        os.close(handle)


def queues(descriptors: list[Descriptor]) -> list[MessageQueue]:
    """POSIX message queues grouped by inode (name from the fd link), with depth."""
    groups: dict[int, list[Descriptor]] = {}
    for d in descriptors:
        if d.kind == "mqueue":
            groups.setdefault(d.inode, []).append(d)
    out = []
    for inode, held in sorted(groups.items()):
        depth, capacity, size, qbytes = queue_attributes(held[0].pid, held[0].fd, inode)
        name = held[0].target.removesuffix(" (deleted)")
        out.append(MessageQueue(name=name, inode=inode,
                                holders=tuple(End(d.pid, d.fd, d.mode) for d in held),
                                depth=depth, capacity=capacity, message_size=size,
                                queued_bytes=qbytes))
    return out
