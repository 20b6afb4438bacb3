"""How a program finds the scenario's channels: each channel's kernel name, path or port
is in the program's environment as `IPCVIZ_<CHANNEL>_<WHAT>` (runtime/programs.py),
where <CHANNEL> is the channel's name upper-cased with every character other than a
letter or digit made `_`. Two channels whose names differ only in case or in `-`
against `_` (`a-b` and `a_b`, `Up` and `up`) would be one variable: a program would find
one of them under the other's name. The loader refuses such a pair, whether or not a
program runs yet, so adding one later does not turn a working file into a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ipcviz.scenario import schema as s
from ipcviz.scenario.yamlpos import FieldPath


def env_stem(channel: str) -> str:
    """The <CHANNEL> part of `IPCVIZ_<CHANNEL>_<WHAT>` for a channel name."""
    return re.sub(r"[^A-Za-z0-9]", "_", channel).upper()


def check_env_names(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """A channel whose environment name is already an earlier channel's."""
    first: dict[str, str] = {}
    for name in scn.channels:
        stem = env_stem(name)
        if stem in first:
            yield (("channels", name), f"programs find channels as IPCVIZ_{stem}_PATH (or "
                                       f"_NAME, _PORT): '{name}' and '{first[stem]}' would "
                                       "be the same variable; rename one")
        else:
            first[stem] = name
