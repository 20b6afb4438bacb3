"""Shared memory: POSIX shm and mapped files from /proc/PID/maps, System V from /proc/sysvipc/."""

from __future__ import annotations

import os

from .model import Mapping, SysV


def shared_maps(pid: int) -> list[tuple[str, int, int, bool]]:
    """(path, inode, mapped length, deleted) of each shared (MAP_SHARED) mapping of a process."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for line in text.split(b"\n"):
        space = line.find(b" ")
        if line[space + 4:space + 5] != b"s":  # perms "rw-s": shared; "rw-p": private
            continue
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        start, _, end = parts[0].partition(b"-")
        path = parts[5].decode("utf-8", "replace")
        deleted = path.endswith(" (deleted)")
        out.append((path.removesuffix(" (deleted)"), int(parts[4]),
                    int(end, 16) - int(start, 16), deleted))
    return out


def _kind(path: str) -> str:
    if path.startswith("/dev/shm/"):
        return "posix_shm"
    if path.startswith("/SYSV"):
        return "sysv_shm"
    if path in ("/dev/zero", "") or path.startswith("/memfd:"):
        return "anonymous"
    return "file"


def _object_size(path: str, inode: int) -> int | None:
    """The object's own size, when the path still names the same inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size if st.st_ino == inode else None


def _contents(path: str, inode: int, limit: int) -> bytes | None:
    """The first `limit` bytes of a POSIX shm object (descriptor closed before returning)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_ino != inode:
            return None
        return os.pread(fd, limit, 0)
    except OSError:
        return None
    finally:
        os.close(fd)


def mappings(pids: list[int], contents_limit: int = 4096) -> list[Mapping]:
    """Shared mappings of the tree grouped by object, with the processes that map it."""
    found: dict[tuple[str, int], dict] = {}
    for pid in pids:
        for path, inode, length, deleted in shared_maps(pid):
            entry = found.setdefault((path, inode), {"pids": set(), "length": 0,
                                                     "deleted": deleted})
            entry["pids"].add(pid)
            entry["length"] = max(entry["length"], length)
    out = []
    for (path, inode), entry in sorted(found.items()):
        kind = _kind(path)
        size = None if entry["deleted"] or kind in ("anonymous", "sysv_shm") \
            else _object_size(path, inode)
        contents = None
        if kind == "posix_shm" and size is not None and contents_limit > 0:
            contents = _contents(path, inode, min(size, contents_limit))
        out.append(Mapping(kind=kind, path=path, inode=inode,
                           size=size if size is not None else entry["length"],
                           mappers=tuple(sorted(entry["pids"])), deleted=entry["deleted"],
                           contents=contents))
    return out


def _table(name: str) -> list[dict[str, int]]:
    try:
        with open(f"/proc/sysvipc/{name}") as f:
            header = f.readline().split()
            return [dict(zip(header, (int(x) for x in line.split()))) for line in f]
    except (OSError, ValueError):
        return []


def sysv(pids: list[int], uid: int, mapped: list[Mapping]) -> list[SysV]:
    """System V objects tied to the tree: shm it created, used or maps; queues it used;
    semaphores owned by the same user (the kernel records no pid for a semaphore set)."""
    tree = set(pids)
    mappers = {m.inode: m.mappers for m in mapped if m.kind == "sysv_shm"}
    out = []
    for row in _table("shm"):
        using = tree & {row["cpid"], row["lpid"], *mappers.get(row["shmid"], ())}
        if using:
            out.append(SysV("shm", row["key"], row["shmid"], row["uid"], size=row["size"],
                            attached=row["nattch"], pids=tuple(sorted(using))))
    for row in _table("msg"):
        using = tree & {row["lspid"], row["lrpid"]}
        if using:
            out.append(SysV("msg", row["key"], row["msqid"], row["uid"], messages=row["qnum"],
                            queued_bytes=row["cbytes"], pids=tuple(sorted(using))))
    for row in _table("sem"):
        if row["uid"] == uid:
            out.append(SysV("sem", row["key"], row["semid"], row["uid"],
                            semaphores=row["nsems"]))
    return out
