"""Channel kinds, one module each (all with the interface in `base.py`); the table of
kinds (`ipcviz.scenario.kinds.CHANNELS`) names the module and class of each."""

from __future__ import annotations

import importlib

from ipcviz.channels.base import Channel
from ipcviz.scenario.kinds import channel_class_path


def channel_class(kind: str) -> type[Channel]:
    """The class that runs channels of `kind` (a kind of the table; the loader accepts no
    other), imported on first use."""
    module, name = channel_class_path(kind)
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Channel) and cls.kind == kind, f"{module}.{name} runs {cls.kind!r}"
    return cls
