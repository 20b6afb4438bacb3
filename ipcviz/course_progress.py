"""A student's progress through `ipcviz course`: which lessons are done and how many of
their questions were answered right, kept per user in the XDG state directory
($XDG_STATE_HOME/ipcviz/course.json, else ~/.local/state/ipcviz/course.json).

The file is only ever the user's own regular file. It is read with O_NOFOLLOW and
checked on the open descriptor (a regular file, owned by the user, one link); anything
else, or a file that is not the JSON written here, is reported in one line and treated
as no progress, and the next save replaces it. A save writes a new file beside it
(O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600) and renames it over the name: a link planted
there is replaced, never followed. The directory must be the user's own real directory.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from ipcviz.host.output import write_fully

#: more than any real progress file holds; a bigger one is not read
MAX_BYTES = 1 << 20
VERSION = 1


class ProgressError(Exception):
    """Progress that cannot be kept; the message is one line naming the path."""


def state_dir() -> Path:
    """$XDG_STATE_HOME/ipcviz when that is an absolute path, else ~/.local/state/ipcviz."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "ipcviz"


def progress_path() -> Path:
    return state_dir() / "course.json"


@dataclass
class Progress:
    """Per lesson: {"done": True, "right": R, "asked": N}."""

    lessons: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: why the file on disk was not used (one line), or None
    problem: str | None = None

    def record(self, lesson: str, right: int, asked: int) -> None:
        self.lessons[lesson] = {"done": True, "right": right, "asked": asked}

    def done(self, lesson: str) -> bool:
        return bool(self.lessons.get(lesson, {}).get("done"))


def _refusal(st: os.stat_result) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.getuid():
        return f"belongs to another user (uid {st.st_uid})"
    if st.st_nlink > 1:
        return "has other hard links"
    if st.st_size > MAX_BYTES:
        return f"is larger than {MAX_BYTES} bytes"
    return None


def load(path: Path | None = None) -> Progress:
    """The progress on disk; no file is no progress. A file that is not ours or not
    ours to read as progress gives empty progress with `problem` set (never raises)."""
    path = path or progress_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                     | os.O_NOCTTY)
    except FileNotFoundError:
        return Progress()
    except OSError as exc:
        why = "is a symbolic link" if os.path.islink(path) else (exc.strerror or str(exc))
        return Progress(problem=f"{path}: {why}; starting afresh (it will be replaced)")
    refusal: str | None
    try:
        refusal = _refusal(os.fstat(fd))
        data = b"" if refusal else os.read(fd, MAX_BYTES + 1)
    except OSError as exc:
        refusal = exc.strerror or str(exc)
    finally:
        os.close(fd)
    if refusal:
        return Progress(problem=f"{path}: {refusal}; starting afresh (it will be replaced)")
    lessons = _parse(data)
    if lessons is None:
        return Progress(problem=f"{path}: is not a progress file of ipcviz (corrupt?); "
                                "starting afresh (it will be replaced)")
    return Progress(lessons)


def _parse(data: bytes) -> dict[str, dict[str, Any]] | None:
    """The lessons of a progress file, or None when it is not one."""
    try:
        top = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested past the stack
        return None
    if not isinstance(top, dict) or top.get("version") != VERSION or \
            not isinstance(top.get("lessons"), dict):
        return None
    lessons = {}
    for name, entry in top["lessons"].items():
        if not isinstance(entry, dict):
            return None
        right, asked = entry.get("right"), entry.get("asked")
        if not (_count(right) and _count(asked)) or right > asked:
            return None
        lessons[str(name)] = {"done": bool(entry.get("done")), "right": right,
                              "asked": asked}
    return lessons


def _own_directory(directory: Path) -> None:
    """`directory` made (0700) when missing; it must be the user's own real directory."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError as exc:
        raise ProgressError(f"{directory}: cannot keep course progress: "
                            f"{exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ProgressError(f"{directory}: is not a directory (a link?); course progress "
                            "is not kept")
    if st.st_uid != os.getuid():
        raise ProgressError(f"{directory}: belongs to another user (uid {st.st_uid}); "
                            "course progress is not kept")


def save(progress: Progress, path: Path | None = None) -> None:
    """Write the progress as the whole file, by rename (see the module's docstring)."""
    path = path or progress_path()
    _own_directory(path.parent)
    text = json.dumps({"version": VERSION, "lessons": progress.lessons}, indent=1,
                      sort_keys=True) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ProgressError(f"{temporary}: cannot write course progress: "
                            f"{exc.strerror or exc}") from None
    try:
        write_fully(fd, text.encode())
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, path)
    except OSError as exc:
        raise ProgressError(f"{path}: cannot write course progress: "
                            f"{exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if temporary.exists() or temporary.is_symlink():
            temporary.unlink()


def reset(path: Path | None = None) -> bool:
    """Forget the progress: the name is removed (a link itself, never what it points
    to). Whether there was anything to forget."""
    path = path or progress_path()
    try:
        st = os.lstat(path.parent)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ProgressError(f"{path.parent}: cannot forget course progress: "
                            f"{exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise ProgressError(f"{path.parent}: is not your own directory (a link?); nothing "
                            "removed")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        raise ProgressError(f"{path}: is a directory; not removed") from None
    except OSError as exc:
        raise ProgressError(f"{path}: cannot forget course progress: "
                            f"{exc.strerror or exc}") from None
    return True


def _count(value: object) -> TypeGuard[int]:
    """A count as the file stores it: an int (not a bool) of 0 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
