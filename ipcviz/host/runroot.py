"""The run root: the one directory under which each run keeps its private directory.

It is shared ground when it lives in /tmp (any local user can create `/tmp/ipcviz-UID`
first, or make it a symlink), so it is used only after `lstat` proves it is a real
directory owned by us with mode 0700. Anything else is never used nor touched. A root
chosen with IPCVIZ_RUN_ROOT is then refused with one line naming the path and what is
wrong; the default root, taken by another user, gives way to a private root of our own
elsewhere (`trusted_run_root`), and only where none works is the run refused.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

PREFIX = "ipcviz"
ENV_OVERRIDE = "IPCVIZ_RUN_ROOT"  # tests (and careful users) choose the root themselves
SHARED_TMP = "/tmp"  # where the default root lives, shared with every local user
_FRESH_SUFFIX = re.compile(r"^[0-9a-f]{16}$")
RUN_ID = re.compile(r"^[1-9][0-9]{0,9}-[0-9a-f]{6}$")  # <pid>-<6 hex>, made by new_run_id


class RunRootError(Exception):
    """The run root cannot be trusted; str() is the one line to print."""


def is_run_id(name: str) -> bool:
    """True when `name` is exactly what this program names a run directory."""
    return RUN_ID.match(name) is not None


def _private_dir(path: str) -> bool:
    """A real directory (not a symlink) of ours that nobody else may enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and info.st_mode & 0o077 == 0)


def run_root_path() -> Path:
    """Where the run root is preferred: the override, `$XDG_RUNTIME_DIR/ipcviz` when that
    directory is ours and private, else `/tmp/ipcviz-UID`. Only names the place; see
    `trusted_run_root` (which falls back when this place is taken by someone else)."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return Path(override)
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isabs(runtime_dir) and _private_dir(runtime_dir):
        return Path(runtime_dir) / PREFIX
    return Path(SHARED_TMP) / f"{PREFIX}-{os.getuid()}"


def _cache_root() -> Path | None:
    """`~/.cache/ipcviz-runs` (or under $XDG_CACHE_HOME), its parent made when missing,
    when the home or cache directory is ours and nobody else may write it; else None."""
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(cache):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        cache = os.path.join(home, ".cache")
    if _parent_problem(Path(cache)) is not None:
        return None  # a home others may write: the cache could be swapped
    try:
        os.mkdir(cache, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(cache)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return Path(cache) / f"{PREFIX}-runs"


def _fresh_tmp_root() -> Path | None:
    """A private root of ours in the shared temporary directory under a name nobody can
    take first: `/tmp/ipcviz-UID.<16 hex>`. The first such directory of ours (sorted by
    name) is used again, so `clean` and the next start find it; others may plant the
    same pattern, but never a directory owned by us."""
    stem = f"{PREFIX}-{os.getuid()}."
    try:
        names = sorted(n for n in os.listdir(SHARED_TMP) if n.startswith(stem))
    except OSError:
        return None
    for name in names:
        if _FRESH_SUFFIX.match(name[len(stem):]) and _private_dir(os.path.join(SHARED_TMP,
                                                                                 name)):
            return Path(SHARED_TMP) / name
    for _ in range(8):
        path = Path(SHARED_TMP) / f"{stem}{secrets.token_hex(8)}"
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        except OSError:
            return None
        return path
    return None


def trusted_run_root(create: bool = True) -> Path:
    """The run root, checked (see `check_run_root`).

    With no override, a preferred root that another user took (a directory of theirs, a
    file or a link at `/tmp/ipcviz-UID`) does not stop the run: the first private root
    of ours that works is used instead, `~/.cache/ipcviz-runs`, else a fresh private
    directory in /tmp. Where none does, the one line names IPCVIZ_RUN_ROOT."""
    preferred = run_root_path()
    try:
        return check_run_root(preferred, create=create)
    except RunRootError as exc:
        if os.environ.get(ENV_OVERRIDE):
            raise  # the user's own choice: never replaced by another place
        first = str(exc)
    for fallback in (_cache_root, _fresh_tmp_root):
        path = fallback()
        if path is None:
            continue
        try:
            return check_run_root(path, create=True)
        except RunRootError:
            continue
    raise RunRootError(f"{first}; no private place of yours works either: set "
                       f"{ENV_OVERRIDE} to a directory of yours that only you can enter")


def _describe(info: os.stat_result) -> str:
    kind = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else
            "a regular file" if stat.S_ISREG(info.st_mode) else "not a directory")
    return kind


def _parent_problem(path: Path) -> str | None:
    """Why the directory holding the root would let another user swap the root, or None.

    In a directory others may write without the sticky bit (/tmp has it), anyone can rename
    our root away and put a symbolic link or a directory of theirs in its place between
    our check and our use."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        info = os.stat(parent)
    except OSError:
        return None  # judged when the root itself is created or read
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return (f"its directory {parent} (mode {stat.S_IMODE(info.st_mode):04o}) is writable "
                "by others and not sticky: anyone could swap the root")
    if info.st_uid not in (0, os.getuid()):
        return f"its directory {parent} belongs to uid {info.st_uid}, who could swap the root"
    return None


def check_run_root(path: Path, create: bool = True) -> Path:
    """Return `path` once it is proven ours: real directory, our uid, mode 0700.

    A missing root is created (mode 0700, its parent must exist) when `create`; our own
    root with a looser mode is set to 0700. Raises RunRootError otherwise.
    """
    where = f"run root {path}"
    problem = _parent_problem(path)
    if problem:
        raise RunRootError(f"{where}: {problem}; refusing to use it")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise RunRootError(f"{where}: does not exist") from None
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # someone was quicker: judged below like any existing entry
        except OSError as exc:
            raise RunRootError(f"{where}: cannot create it: {exc.strerror}") from None
        try:
            info = os.lstat(path)
        except OSError as exc:
            raise RunRootError(f"{where}: {exc.strerror}") from None
    except OSError as exc:
        raise RunRootError(f"{where}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise RunRootError(f"{where}: is {_describe(info)}, not a directory; "
                           "refusing to use it (remove it if it is yours)")
    if info.st_uid != os.getuid():
        raise RunRootError(f"{where}: belongs to uid {info.st_uid}, not to you (uid "
                           f"{os.getuid()}); refusing to use it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        try:
            os.chmod(path, 0o700, follow_symlinks=False)
        except OSError as exc:
            raise RunRootError(f"{where}: mode {stat.S_IMODE(info.st_mode):04o} and it cannot "
                               f"be set to 0700: {exc.strerror}") from None
        after = os.lstat(path)
        if (not stat.S_ISDIR(after.st_mode) or after.st_uid != os.getuid()
                or (after.st_dev, after.st_ino) != (info.st_dev, info.st_ino)
                or stat.S_IMODE(after.st_mode) != 0o700):
            raise RunRootError(f"{where}: changed while being checked; refusing to use it")
    return path


def owned_private_file(path: Path | str) -> os.stat_result | None:
    """lstat of a regular file of ours that others cannot write, else None."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if (stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
            and info.st_mode & 0o022 == 0):
        return info
    return None


def read_private_file(path: Path | str, limit: int = 4 << 20) -> bytes | None:
    """Contents of a regular file of ours that others cannot write, opened without following
    a link and without blocking on a FIFO; None for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or info.st_mode & 0o022 or info.st_size > limit):
            return None
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)
