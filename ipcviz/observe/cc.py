"""Compile a C example with `cc` on first use, into a private cache under the user's cache dir.

The binary is named after a hash of the source and flags, so an edited source is rebuilt and
an unchanged one is not. The promise is that a cached binary is compiled from exactly the
bytes that were hashed, so the same source always runs the program it spells:

- the source is read once, as a size-limited regular file opened without waiting
  (host/inputs.py: a FIFO or /dev/zero is refused, never read forever);
- those bytes are hashed and written to a private copy (0600, in a fresh 0700 directory
  inside the cache), and the compiler reads that copy, never the user's path again: a
  source swapped after it was hashed cannot end up under the old source's name;
- the cache directory must be ours: our own, a real directory (not a link), closed to
  group and others; a cache path someone else made is refused rather than trusted, and so
  is one reached through a directory another user could change ($XDG_CACHE_HOME in a
  directory of theirs, or one anyone may write that is not sticky): they could rename
  the cache away, with its binaries, between the build and the exec;
- the binary is built in the private directory and renamed into place (mode 0700): a
  cached name holds a whole binary or nothing, and one whose file is not ours is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O2", "-Wall", "-std=gnu11")
LIBS = ("-lrt",)
#: the largest C source compiled (the examples are a few KB)
MAX_SOURCE_BYTES = 4 * 1024 * 1024


class CompileError(RuntimeError):
    """A C program could not be built; the message is one line meant for the user."""


class NoCompiler(CompileError):
    """There is no C compiler on this machine."""


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/ipcviz/cc or ~/.cache/ipcviz/cc, created private, checked ours."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "ipcviz" / "cc"
    problem = _swappable(os.path.abspath(base))
    if problem:
        raise CompileError(f"{path}: compile cache reached through {problem}; set "
                           "XDG_CACHE_HOME to a directory of yours")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        for directory in (path.parent, path):  # ipcviz/ too: its owner could swap cc/
            st = directory.lstat()
            if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                    or st.st_mode & (0o077 if directory == path else 0o022)):
                raise CompileError(f"{directory}: compile cache not a private directory of "
                                   "yours (owned by you, mode 0700, not a link)")
    except OSError as exc:
        raise CompileError(f"{path}: cannot use the compile cache: {exc.strerror or exc}"
                           ) from None
    return path


def _swappable(base: str) -> str | None:
    """The first directory on the way to `base` (itself included) that another user could
    change (theirs, or writable by others or another group, without the sticky bit), in
    words; or None."""
    me = os.getuid()
    parts = Path(base).parts
    for depth in range(1, len(parts) + 1):
        directory = os.path.join(*parts[:depth])
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            return None  # made below by us, as ours
        except OSError as exc:
            return f"{directory} ({exc.strerror})"
        if st.st_uid not in (0, me):
            return f"{directory}, a directory of uid {st.st_uid}"
        # (group-writable is ours alone when the group is our own: a user private group)
        shared = st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid != os.getgid())
        if shared and not st.st_mode & stat.S_ISVTX:
            return (f"{directory}, a directory others may write (mode "
                    f"{stat.S_IMODE(st.st_mode):04o})")
    return None


def compiler() -> str:
    """The C compiler to use ($CC or cc), or NoCompiler with one clear line."""
    name = os.environ.get("CC", "cc")
    found = shutil.which(name)
    if found is None:
        raise NoCompiler(f"no C compiler ({name!r} not found): install one "
                         "(Debian/Ubuntu: apt install gcc) to build the C examples")
    return found


def _cached(target: Path) -> bool:
    """Whether `target` is a binary this cache made: a regular file of ours, 0700."""
    try:
        st = target.lstat()
    except FileNotFoundError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()
            and stat.S_IMODE(st.st_mode) == 0o700)


def compile_c(source: Path | str) -> Path:
    """The path of the compiled program for `source`, building it once if needed."""
    from ipcviz.host.inputs import InputRefused, read_regular  # observe/ imports stand alone

    source = Path(source)
    try:
        text = read_regular(source, MAX_SOURCE_BYTES, "C source")
    except InputRefused as exc:
        raise CompileError(str(exc)) from None
    cc = compiler()
    digest = hashlib.sha256(text + repr((cc, FLAGS, LIBS)).encode()).hexdigest()[:16]
    cache = cache_dir()
    target = cache / f"{source.stem}-{digest}"
    if _cached(target):
        return target
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as work:  # 0700
        copy = Path(work) / f"{source.stem}.c"
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(text)
        built = Path(work) / "program"
        try:
            result = subprocess.run([cc, *FLAGS, "-o", str(built), str(copy), *LIBS],
                                    capture_output=True, text=True, timeout=120,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CompileError(f"cc took more than 120 s on {source}") from None
        if result.returncode != 0:
            # the compiler names the private copy: say the user's file instead
            lines = result.stderr.replace(str(copy), str(source)).strip().splitlines() \
                or ["(no message)"]
            # the compiler's first error ("f.c:3:5: error: ..."), not its "In function" line
            first = next((ln for ln in lines if "error:" in ln), lines[0])
            raise CompileError(f"cc failed: {first.strip()}")
        os.chmod(built, 0o700)
        os.replace(built, target)  # whole or not at all, whatever was at the name
    return target
