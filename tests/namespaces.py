"""Running test code in a forked child with a private mount namespace of its own (root
only), so the machine's /dev and /tmp are never changed for anyone else: /dev/mqueue
mounted, an empty unmounted directory, or absent; a /tmp of its own to plant names in."""

from __future__ import annotations

import ctypes
import os
import traceback
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RDONLY = 1
MS_REMOUNT = 32
#: how /dev/mqueue can look on a machine
MQUEUE_STATES = ("mounted", "empty-directory", "absent")


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                           ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None,
           flags: int = 0) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    if libc.mount(enc(source), enc(target), enc(fstype), flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def private_namespaces_possible() -> str | None:
    """Why a private mount namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "a private mount namespace needs root"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if _libc().unshare(CLONE_NEWNS) == 0 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return "unshare(CLONE_NEWNS) is not permitted on this machine"
    return None


def _private_dev(mqueue: str) -> None:
    """In this (forked) process: a /dev of its own holding the real /dev/shm, null, zero,
    urandom and random, with /dev/mqueue as `mqueue` says."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    old = os.open("/dev", os.O_PATH | os.O_DIRECTORY)
    _mount(libc, "tmpfs", "/dev", "tmpfs")
    for name in ("shm", "null", "zero", "urandom", "random"):
        source = f"/proc/self/fd/{old}/{name}"
        if not os.path.exists(source):
            continue
        if os.path.isdir(source):
            os.mkdir(f"/dev/{name}")
        else:
            open(f"/dev/{name}", "w").close()
        _mount(libc, source, f"/dev/{name}", None, MS_BIND | MS_REC)
    os.close(old)
    if mqueue != "absent":
        os.mkdir("/dev/mqueue", 0o1777)
    if mqueue == "mounted":
        _mount(libc, "mqueue", "/dev/mqueue", "mqueue")


def with_mqueue(mqueue: str, action: Callable[[], None]) -> None:
    """Run `action` in a forked child whose /dev/mqueue is `mqueue` (see MQUEUE_STATES);
    fails the test if the action failed."""
    assert mqueue in MQUEUE_STATES
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _private_dev(mqueue)
            assert os.path.ismount("/dev/mqueue") == (mqueue == "mounted")
            assert os.path.isdir("/dev/mqueue") == (mqueue != "absent")
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"the child (/dev/mqueue {mqueue}) failed"


def remount_read_only(path: str) -> None:
    """Make the mount at `path` read-only (in this private namespace only)."""
    _mount(_libc(), None, path, None, MS_REMOUNT | MS_RDONLY)


def with_private_tmp(action: Callable[[], None]) -> None:
    """Run `action` in a forked child that sees an empty /tmp of its own (a tmpfs, mode
    1777, in a private mount namespace): it may plant names in /tmp as another user
    without touching the machine's /tmp; fails the test if the action failed."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            libc = _libc()
            if libc.unshare(CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            _mount(libc, "tmpfs", "/tmp", "tmpfs")
            os.chmod("/tmp", 0o1777)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child with a private /tmp failed"
