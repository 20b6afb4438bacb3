"""A scenario file opened once: its bytes, what they were opened as, and whether that open
file IS a bundled scenario.

Everything after the open (validation, the `exec:`/`attach:` permission, the runtime
process, a reload's decision) works on this one value and never on the path again: a
path names whatever is there at the moment it is looked up, and another user who owns
the directory can change that between two lookups. "Bundled" is decided by comparing the
open file's device and inode with the bundled files', never by the path's text.

Kept light (no pydantic, no YAML) so that `ipcviz launch` can open the file and start the
runtime process before importing anything heavy.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ipcviz.scenario.paths import bundled_dir

__all__ = ["MAX_FILE_BYTES", "MAX_PROBLEM_LINES", "OpenedScenario", "ScenarioError",
           "locate", "open_scenario", "resolve_path"]

#: the largest scenario file read (a hostile one is refused before it is parsed)
MAX_FILE_BYTES = 1_000_000
#: the most problem lines a refusal prints; the rest are counted in one last line
MAX_PROBLEM_LINES = 50


def capped(lines: list[str], limit: int = MAX_PROBLEM_LINES) -> list[str]:
    """The first `limit` lines, then one line saying how many more there were."""
    if len(lines) <= limit + 1:  # one more line says no more than the line itself
        return lines
    more = len(lines) - limit
    return lines[:limit] + [f"... and {more:,} more problems"]


class ScenarioError(Exception):
    """A scenario that does not load; `lines` are ready to print, one per problem (at
    most MAX_PROBLEM_LINES of them and a count of the rest)."""

    def __init__(self, lines: list[str]):
        lines = capped(list(lines))
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class OpenedScenario:
    """One read of a scenario file, immutable from then on.

    `name` is what the user wrote (for messages and to open it again on a reload), `path`
    the path that was opened, (`device`, `inode`) the file that open reached, `bundled`
    the bundled file with that same device and inode (None: not a bundled scenario),
    `note` one line to show when the name could have meant another file too."""

    raw: bytes
    name: str
    path: str
    device: int
    inode: int
    bundled: str | None = None
    note: str | None = None

    @property
    def is_bundled(self) -> bool:
        return self.bundled is not None

    @property
    def base_path(self) -> str:
        """The path relative things in the file are taken from (a program's `cwd:`): the
        bundled file itself when the open file is one, whatever path reached it."""
        return self.bundled or self.path

    def meta(self) -> str:
        """Everything but the bytes, as one JSON text (for the runtime process's argv)."""
        return json.dumps({"name": self.name, "path": self.path, "device": self.device,
                           "inode": self.inode, "bundled": self.bundled})

    @classmethod
    def from_meta(cls, meta: str, raw: bytes) -> "OpenedScenario":
        """The value again on the other side of a process boundary (bytes passed along)."""
        data = json.loads(meta)
        return cls(raw, str(data["name"]), str(data["path"]), int(data["device"]),
                   int(data["inode"]), data["bundled"] and str(data["bundled"]))


def _bundled_candidate(name: str) -> Path | None:
    """The bundled scenario a bare name (no '/') means: `pipe_two_way` or `pipe_two_way.yaml`."""
    if "/" in name or "\0" in name:
        return None
    stem = name[:-5] if name.endswith(".yaml") else name
    if not stem or stem.startswith("."):
        return None
    candidate = bundled_dir() / f"{stem}.yaml"
    return candidate if candidate.is_file() else None


def locate(name: str) -> tuple[str, str | None]:
    """The path to open for `name`, and a line to show when the name could mean two files.

    A bare name of a bundled scenario means the bundled one, even when a file of that name
    is in the current directory (someone may have planted it); a local file is used when
    written as a path (`./pipe_two_way`). A path that does not exist but ends in a bundled
    name still finds the bundled scenario (`scenarios/pipe_two_way.yaml` from elsewhere)."""
    candidate = _bundled_candidate(name)
    if candidate is not None:
        note = None
        if os.path.lexists(name):
            note = (f"{name}: loaded the bundled scenario {candidate}; for the file in this "
                    f"directory write ./{name}")
        return str(candidate), note
    if "/" in name and not os.path.lexists(name):
        fallback = _bundled_candidate(os.path.basename(name))
        if fallback is not None:
            return str(fallback), None
    return name, None


def resolve_path(name: str) -> str:
    """The path `name` means (`locate`): a bare bundled name is the bundled file,
    anything else the path as given. To read a scenario, open it once with
    `open_scenario` and use those bytes: a path names what is there when looked up."""
    return locate(name)[0]


def _bundled_identity(info: os.stat_result) -> str | None:
    """The bundled scenario file that is the same file (device and inode) as `info`."""
    directory = bundled_dir()
    try:
        entries = list(directory.glob("*.yaml"))
    except OSError:
        return None
    for entry in entries:
        try:
            other = os.stat(entry)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino) and \
                stat.S_ISREG(other.st_mode):
            return str(entry)
    return None


def read_limited(fd: int, shown: str) -> tuple[bytes, os.stat_result]:
    """The whole of an open regular file of at most MAX_FILE_BYTES, and its fstat."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError([f"{shown}: not a regular file; a scenario is a YAML file"])
    if info.st_size > MAX_FILE_BYTES:  # refuse before reading anything
        raise ScenarioError([f"{shown}:1:1: file is {info.st_size:,} bytes; scenarios are "
                             f"limited to {MAX_FILE_BYTES:,} bytes"])
    chunks, total = [], 0
    while total <= MAX_FILE_BYTES:
        chunk = os.pread(fd, MAX_FILE_BYTES + 1 - total, total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > MAX_FILE_BYTES:  # it grew while being read
        raise ScenarioError([f"{shown}:1:1: file is over {MAX_FILE_BYTES:,} bytes; "
                             f"scenarios are limited to {MAX_FILE_BYTES:,} bytes"])
    return b"".join(chunks), info


def _close_bundled_names(name: str) -> str | None:
    """Bundled scenario names close to a misspelled one (`pipe_one_way` -> pipe_oneway)."""
    import difflib

    stem = os.path.basename(name)
    stem = stem[:-5] if stem.endswith(".yaml") else stem
    names = [p.stem for p in bundled_dir().glob("*.yaml")]
    close = difflib.get_close_matches(stem, names, n=3, cutoff=0.7)
    return " or ".join(close) if close else None


def open_scenario(name: str) -> OpenedScenario:
    """Open the scenario `name` (a path, or a bundled scenario's bare name) once and read
    it whole; ScenarioError with one line when it cannot be read."""
    path, note = locate(str(name))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; only a regular file is
        # read, and never more than the limit (/dev/zero has size 0 and no end)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        hint = ""
        if isinstance(exc, FileNotFoundError):
            hint = " (neither a file nor a bundled scenario; `ipcviz list` shows those)"
            close = _close_bundled_names(str(name))
            if close:
                hint = f" (no such file or bundled scenario; did you mean {close}?)"
        reason = exc.strerror if isinstance(exc, OSError) else "not a valid path"
        raise ScenarioError([f"{name}: cannot read: {reason}{hint}"]) from None
    try:
        raw, info = read_limited(fd, str(name))
    except OSError as exc:
        raise ScenarioError([f"{name}: cannot read: {exc.strerror}"]) from None
    finally:
        os.close(fd)
    return OpenedScenario(raw, str(name), path, info.st_dev, info.st_ino,
                          _bundled_identity(info), note)
