"""Only ipcviz.tui imports Textual: the data layer and the headless path never load it."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

CORE = ["ipcviz.scenario.load", "ipcviz.channels", "ipcviz.worker.interpreter",
        "ipcviz.runtime.supervisor", "ipcviz.runtime.headless", "ipcviz.runtime.control",
        "ipcviz.runtime.sampler", "ipcviz.telemetry.summary", "ipcviz.cli"]


def test_core_modules_do_not_import_textual() -> None:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in CORE) +
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "[]"
