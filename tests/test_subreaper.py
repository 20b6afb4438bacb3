"""A Runtime run inside another process (a test, a program using ipcviz as a library)
gives the child-subreaper role back at shutdown: else that process's later orphans are
re-parented to it and stay zombies nobody reaps."""

from __future__ import annotations

from ipcviz.host.process import become_subreaper, is_subreaper
from ipcviz.runtime.headless import run_headless
from ipcviz.scenario.load import load_text

SCENARIO = b"""
name: one short worker
duration: 1
workers:
  w:
    steps: [{sleep: 0.05}]
"""


def test_a_runtime_in_this_process_gives_the_subreaper_role_back(nothing_left_behind) -> None:
    become_subreaper(False)
    try:
        result = run_headless(load_text(SCENARIO, "f.yaml"), None)
        assert result.summary["workers"]["w"]["exit"] == 0
        assert not is_subreaper()
    finally:
        become_subreaper(False)
