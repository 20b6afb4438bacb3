"""Writing an output file the user named (`record -o`, `screenshot -o`, a gallery's pictures).

Output often goes into a directory shared with others (a course directory, /tmp), where
anyone may have planted a name first: a symbolic link to the user's ~/.bashrc, a hard link,
a FIFO, another user's file. The promise: an output file never follows a link and never
replaces anything but the user's own regular file; otherwise the command refuses in one
line. The mechanism:

- a new file is created with O_CREAT | O_EXCL | O_NOFOLLOW: nothing at the name is
  followed, and a name taken between the look and the open is never reused;
- an existing name is opened with O_NOFOLLOW | O_NONBLOCK (a planted link fails with
  ELOOP, a FIFO never makes the open wait) and checked on the open descriptor (fstat):
  a regular file, owned by the user, with no other hard link (a link to the user's own
  file elsewhere would have it rewritten). Only then is it truncated.

`output_problem` is the same look, taken before a long run starts, so a refused name costs
nothing; the open checks again whatever was there by then.

The directory an output goes into is the one it was in when it was checked: the directory
(`screenshot --all -o DIR`, `output_directory`; or the one holding a file `output_problem`
looked at) is held open from then on, and the output is opened relative to that
descriptor. Whoever may write a parent of it can rename it away and put a link in its
place during the long run (`quiz --report shared/reports/me.json`, the gallery), but the
file still goes where it was checked, never through the link.
"""

from __future__ import annotations

import errno
import os
import stat

from ipcviz.host.output import write_fully

_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
#: directories outputs were checked in, by absolute path: their open descriptors
_PINNED: dict[str, int] = {}


class OutputRefused(ValueError):
    """An output file that is not written; the message is one line naming it."""


def _refusal(st: os.stat_result) -> str | None:
    """Why a file with this (l)stat is not ours to replace, or None."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link; not written (an output never goes through a link)"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory; name a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a FIFO, socket or device); not written"
    if st.st_uid != os.getuid():
        return f"belongs to another user (uid {st.st_uid}); not replaced"
    if st.st_nlink > 1:
        return "has other hard links; not replaced (it would change them too)"
    return None


def _pin_folder(name: str) -> None:
    """Hold open the directory `name` is in now (as its path names it at the check), for
    the output to go there whatever the path names later; nothing when it is missing."""
    folder = os.path.dirname(os.path.abspath(name))
    if folder in _PINNED:
        return
    try:
        _PINNED[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        pass  # made later (screenshot makes it), or refused by the output's own open


def _placed(name: str) -> tuple[str, int | None]:
    """(`name`, None), or (its last part, the descriptor of the checked directory it is
    in) when its directory was checked (`output_directory`, `output_problem`)."""
    folder, base = os.path.split(os.path.abspath(name))
    fd = _PINNED.get(folder)
    return (base, fd) if fd is not None else (name, None)


def output_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` would not be written, as one line naming it, or None (it does not exist
    yet, or it is the user's own regular file). Its directory is held from now on."""
    name = os.fspath(path)
    _pin_folder(name)
    where, dir_fd = _placed(name)
    try:
        st = os.lstat(where, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{name}: cannot write: {exc.strerror or exc}"
    why = _refusal(st)
    return f"{name}: {why}" if why else None


def open_output(path: str | os.PathLike[str]) -> int:
    """A descriptor open for writing on `path`, empty: a new file (mode 0644 less the
    umask), or the user's own regular file truncated. OutputRefused otherwise."""
    name = os.fspath(path)
    where, dir_fd = _placed(name)
    try:
        fd = os.open(where, _FLAGS | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
    except FileExistsError:
        try:
            fd = os.open(where, _FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            problem = output_problem(name)
            raise OutputRefused(problem or f"{name}: cannot write: {exc.strerror or exc}"
                                ) from None
    except OSError as exc:
        raise OutputRefused(f"{name}: cannot write: {exc.strerror or exc}") from None
    try:
        why = _refusal(os.fstat(fd))
        if why:
            raise OutputRefused(f"{name}: {why}")
        os.ftruncate(fd, 0)
    except OSError as exc:
        os.close(fd)
        raise OutputRefused(f"{name}: cannot write: {exc.strerror or exc}") from None
    except OutputRefused:
        os.close(fd)
        raise
    return fd


def write_output(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` as the whole content of output file `path` (see `open_output`)."""
    fd = open_output(path)
    try:
        write_fully(fd, data)
    except OSError as exc:
        raise OutputRefused(f"{os.fspath(path)}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def output_directory(path: str | os.PathLike[str]) -> None:
    """Make sure `path` is a directory of the user's own to write outputs into: created
    (0755 less the umask) when missing; an existing one must be a real directory (not a
    link to one) owned by the user. OutputRefused otherwise. The directory is held open
    from then on: outputs named inside it go into it (see the module's text)."""
    name = os.fspath(path)
    try:
        os.makedirs(name, 0o755, exist_ok=True)
    except OSError as exc:
        raise OutputRefused(f"{name}: cannot create the directory: {exc.strerror or exc}"
                            ) from None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(name):
            raise OutputRefused(f"{name}: is a symbolic link; not written into (name the "
                                "directory itself)") from None
        if exc.errno == errno.ENOTDIR:
            raise OutputRefused(f"{name}: is not a directory") from None
        raise OutputRefused(f"{name}: cannot write into: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if st.st_uid != os.getuid():
        os.close(fd)
        raise OutputRefused(f"{name}: belongs to another user (uid {st.st_uid}); not "
                            "written into")
    old = _PINNED.pop(os.path.abspath(name), None)
    if old is not None:
        os.close(old)
    _PINNED[os.path.abspath(name)] = fd
