"""Compile a C example with `cc` on first use, into a private cache under the user's cache dir.

The binary is named after a hash of the source and flags, so an edited source is rebuilt and
an unchanged one is not. The cache directory is created 0700 and must belong to us: a shared
cache path someone else made is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O2", "-Wall", "-std=gnu11")
LIBS = ("-lrt",)


class CompileError(RuntimeError):
    """A C program could not be built; the message is one line meant for the user."""


class NoCompiler(CompileError):
    """There is no C compiler on this machine."""


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/ipcviz/cc or ~/.cache/ipcviz/cc, created private, checked ours."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "ipcviz" / "cc"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022 or path.is_symlink():
        raise CompileError(f"{path}: compile cache not owned by you or writable by others")
    return path


def compiler() -> str:
    """The C compiler to use ($CC or cc), or NoCompiler with one clear line."""
    name = os.environ.get("CC", "cc")
    found = shutil.which(name)
    if found is None:
        raise NoCompiler(f"no C compiler ({name!r} not found): install one "
                         "(Debian/Ubuntu: apt install gcc) to build the C examples")
    return found


def compile_c(source: Path | str) -> Path:
    """The path of the compiled program for `source`, building it once if needed."""
    source = Path(source)
    text = source.read_bytes()
    cc = compiler()
    digest = hashlib.sha256(text + repr((cc, FLAGS, LIBS)).encode()).hexdigest()[:16]
    target = cache_dir() / f"{source.stem}-{digest}"
    if target.exists():
        return target
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{source.stem}-")
    os.close(fd)
    try:
        result = subprocess.run([cc, *FLAGS, "-o", temp, str(source), *LIBS],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["(no message)"]
            # the compiler's first error ("f.c:3:5: error: ..."), not its "In function" line
            first = next((ln for ln in lines if "error:" in ln), lines[0])
            raise CompileError(f"cc failed: {first.strip()}")
        os.chmod(temp, 0o700)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target
