"""What a served session may run: the rules the server's command line set, carried to each
session process in its argv (the browser user sends only keys, never arguments).

A served session runs bundled lessons, and the teacher's own files only from the one
directory given with `--scenarios DIR`; a scenario that starts programs (`exec:`) or
watches a process (`attach:`) runs only when the server was started with `--allow-exec`,
bundled or not; a scenario whose worst case has more processes alive at once than
`--max-workers` is refused; each run ends after `--max-run` seconds. Kept free of Textual
so the server (which never imports it) and the session share one set of rules.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipcviz.scenario.load import LoadedScenario

#: processes alive at once a served run may have at worst (every bundled lesson fits)
DEFAULT_MAX_WORKERS = 32
#: seconds a served run lasts before it is stopped (the tab goes back to the picker)
DEFAULT_MAX_RUN = 600.0
#: what a lesson's name may be in a URL and on the session's command line
LESSON_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class PolicyError(Exception):
    """A --scenarios directory that must not be served; the message is one line."""


@dataclass(frozen=True)
class ServedPolicy:
    """The limits of every session of one server."""

    scenarios_dir: str | None = None
    allow_exec: bool = False
    max_workers: int = DEFAULT_MAX_WORKERS
    max_run: float = DEFAULT_MAX_RUN

    def argv(self) -> list[str]:
        """The session's options that carry this policy (session.py parses them)."""
        args = [f"--max-workers={self.max_workers}", f"--max-run={self.max_run!r}"]
        if self.scenarios_dir is not None:
            args.append(f"--scenarios={self.scenarios_dir}")
        if self.allow_exec:
            args.append("--allow-exec")
        return args

    def lessons(self) -> dict[str, Path]:
        """Every lesson a session may open, by name: the bundled ones in the course's
        order, then the --scenarios directory's regular *.yaml files (a file named like a
        bundled lesson is left out: the name means the bundled one)."""
        from ipcviz.scenario.paths import bundled_scenarios

        found = {path.stem: path for path in bundled_scenarios()}
        for path in own_files(self.scenarios_dir):
            found.setdefault(path.stem, path)
        return found

    def refusal(self, scenario: LoadedScenario) -> str | None:
        """One line when a loaded scenario may not run in a served session, else None."""
        from ipcviz.scenario.programs import programs
        from ipcviz.scenario.resources import worst_processes

        model = scenario.model
        names = programs(model)
        # a bundled lesson's programs are ours (fixed command lines, checked as the runtime
        # checks them); watching a process outside the run (`attach:`) never is
        ours = scenario.bundled and not any(w.attach for w in model.workers.values())
        if names and not self.allow_exec and not ours:
            return (f"worker '{names[0]}' runs or watches a program (exec:, attach:), which a "
                    "served session does not do unless the server was started with "
                    "--allow-exec")
        worst = worst_processes(model)
        if worst > self.max_workers:
            amount = "no bound on its processes" if worst == float("inf") else \
                f"up to {worst:g} processes at once"
            return (f"it has {amount}; a served session allows {self.max_workers} "
                    "(the server's --max-workers)")
        return None


def own_files(directory: str | None) -> list[Path]:
    """The regular *.yaml files (no links) directly in `directory`, by name."""
    if directory is None:
        return []
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                stem = entry.name[:-5]
                if entry.name.endswith(".yaml") and LESSON_NAME.match(stem) and \
                        entry.is_file(follow_symlinks=False):
                    found.append(Path(directory) / entry.name)
    except OSError:
        return []
    return sorted(found)


def check_scenarios_dir(directory: str) -> str:
    """The absolute path of a --scenarios directory that is safe to serve from: a real
    directory (not a link) owned by this user, that no one else may write (another user
    who could plant a file there would choose what the browsers run). PolicyError
    otherwise."""
    path = os.path.abspath(directory)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise PolicyError(f"--scenarios: {directory}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise PolicyError(f"--scenarios: {directory}: not a directory (a link is not "
                          "followed)")
    if info.st_uid != os.geteuid():
        raise PolicyError(f"--scenarios: {directory}: owned by uid {info.st_uid}, not by "
                          "you; serve only a directory of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PolicyError(f"--scenarios: {directory}: others may write in it (mode "
                          f"{stat.S_IMODE(info.st_mode):o}); chmod go-w it first")
    return path
