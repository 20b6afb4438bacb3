"""Which POSIX shared memory segments and message queues exist, by name and inode: taken
when a run starts, so that an object a program left at the end is called its leak only
when it was created during the run (the same name with the same inode was not there).

/dev/shm is a directory anyone can list. Message queues are listed where an mqueue file
system is mounted; where none is (a container, a fresh root machine), a forked child
mounts one in a private mount namespace of its own, which nobody else sees and which
ends with it (root only). Where neither works the queue listing is unknown (None).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import stat

CLONE_NEWNS = 0x00020000
MS_REC = 16384
MS_PRIVATE = 1 << 18
#: how long the listing child may take (seconds)
CHILD_TIMEOUT = 5.0


def shm_listing() -> dict[str, int]:
    """Every regular file in /dev/shm (segments, `sem.` semaphores): name -> inode."""
    return _listing("/dev/shm") or {}


def queue_listing() -> dict[str, int] | None:
    """Every message queue of this IPC namespace: name (no slash) -> inode; None when
    they cannot be listed here."""
    mounted = mqueue_mount()
    if mounted is not None:
        return _listing(mounted)
    return _listing_in_private_namespace()


def mqueue_mount() -> str | None:
    """Where an mqueue file system is mounted whole in our mount namespace, or None."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        if after and after[0] == "mqueue" and fields[3] == "/":
            return _unescape(fields[4])
    return None


def _unescape(path: str) -> str:
    """A mountinfo path with its octal escapes (space, tab, newline, backslash) undone."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def _listing(directory: str) -> dict[str, int] | None:
    """name -> inode of the regular files in `directory` (links are not followed)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = {}
    for name in names:
        try:
            info = os.lstat(os.path.join(directory, name))
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found[name] = info.st_ino
    return found


def _listing_in_private_namespace() -> dict[str, int] | None:
    """The queues as a forked child sees them through an mqueue file system it mounts in a
    mount namespace of its own; None when it may not (not root, or not permitted)."""
    if os.geteuid() != 0:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_ulong, ctypes.c_char_p]
    except OSError:
        return None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only system calls, then _exit
        code = 1
        try:
            os.close(read)
            if (libc.unshare(CLONE_NEWNS) == 0
                    and libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
                    and libc.mount(b"mqueue", b"/tmp", b"mqueue", 0, None) == 0):
                found = _listing("/tmp")
                if found is not None:
                    text = "".join(f"{ino} {name}\0" for name, ino in found.items())
                    os.write(write, text.encode("utf-8", "surrogateescape"))
                    code = 0
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    try:
        while True:
            if not select.select([read], [], [], CHILD_TIMEOUT)[0]:
                os.kill(pid, signal.SIGKILL)  # never waited for without end
                break
            chunk = os.read(read, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    listing = {}
    for line in b"".join(chunks).decode("utf-8", "surrogateescape").split("\0"):
        ino, _, name = line.partition(" ")
        if ino.isdigit() and name:
            listing[name] = int(ino)
    return listing
