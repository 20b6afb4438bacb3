"""The keys the loader lets `expect:` and questions name (scenario/entries.py) are the keys
a real run's summary entries have, per worker and per channel kind: nothing the loader
accepts is absent from the summary (it would pass vacuously or grade every answer wrong),
and nothing the summary has for checks is refused."""

from __future__ import annotations

import sys

from ipcviz.runtime.headless import run_headless
from ipcviz.runtime.programs import env_name
from ipcviz.scenario import entries
from ipcviz.scenario.channel_env import env_stem
from ipcviz.scenario.load import load_text
from ipcviz.scenario.refs import CHANNEL_KEYS, WORKER_KEYS

EVERY_KIND = f"""\
duration: 1.5
channels:
  p: {{kind: pipe}}
  f: {{kind: fifo}}
  s: {{kind: socket, server: a}}
  u: {{kind: socket, family: udp, server: a}}
  d: {{kind: socket, type: dgram, server: a}}
  mq: {{kind: mqueue}}
  q: {{kind: queue, capacity: 3}}
  arr: {{kind: shared_array, shape: [2]}}
  big: {{kind: shared_array, shape: [5000]}}
  sem: {{kind: semaphore}}
  mm: {{kind: mmap}}
  fl: {{kind: file}}
  r: {{kind: rpc, server: a}}
  pg: {{kind: page}}
workers:
  a:
    steps:
      - serve: r
  b:
    handlers: {{SIGUSR1: count}}
    steps:
      - write: {{to: p, data: x}}
      - read: {{from: p}}
      - write: {{to: f, data: x}}
      - read: {{from: f}}
      - send: {{to: mq, data: x}}
      - receive: {{from: mq}}
      - send: {{to: q, data: x}}
      - receive: {{from: q}}
      - increment: {{array: arr}}
      - increment: {{array: big}}
      - acquire: sem
      - release: sem
      - write: {{to: mm, data: x}}
      - write: {{to: fl, data: x}}
      - write: {{to: pg, data: x}}
      - read: {{from: pg, bytes: 1}}
      - write: {{to: u, data: x}}
      - call: {{on: r, method: add, params: [1, 2]}}
  prog:
    exec: [{sys.executable}, -c, "pass"]
compare: [p, f]
"""

#: keys a summary entry has only at some moments (while blocked; once a semaphore was
#: handed over or changed hands too fast to read)
NOW_AND_THEN = frozenset({"blocked_on", "handoff", "busy"})


def test_the_keys_checks_may_name_are_the_keys_a_real_run_has(nothing_left_behind) -> None:
    scenario = load_text(EVERY_KIND.encode(), "every_kind.yaml")
    summary = run_headless(scenario, allow_exec=True).summary
    model = scenario.model
    for name, entry in summary["channels"].items():
        allowed = entries.channel_keys(model, name)
        has = set(entry) & CHANNEL_KEYS
        assert has <= allowed, (name, sorted(has - allowed))
        assert allowed - NOW_AND_THEN <= has, (name, sorted(allowed - NOW_AND_THEN - has))
        for key, value in entry.items():
            held_as_mapping = isinstance(value, dict) and key in CHANNEL_KEYS
            assert held_as_mapping == entries.holds_mapping(model, "channel", name, key), (
                name, key)
    for name, entry in summary["workers"].items():
        allowed = entries.worker_keys(model.workers[name])
        has = set(entry) & WORKER_KEYS
        assert has <= allowed, (name, sorted(has - allowed))
        assert allowed - NOW_AND_THEN <= has, (name, sorted(allowed - NOW_AND_THEN - has))
        for key in has:
            assert isinstance(entry[key], dict) == entries.holds_mapping(
                model, "worker", name, key), (name, key)
    counted = summary["workers"]["b"]
    assert counted["bytes_written"] == {"p": 1, "f": 1, "mm": 1, "fl": 1, "u": 1, "pg": 1}
    assert counted["messages_sent"] == {"mq": 1, "q": 1}
    assert counted["increments"] == {"arr": 1, "big": 1}
    assert summary["channels"]["big"]["values"]["max"] == 1


def test_the_loaders_environment_names_are_the_runtimes() -> None:
    for name in ("a", "a-b", "a_b", "Up", "up", "x9-Y_z", "_lead", "-"):
        for what in ("PATH", "NAME", "PORT", "HOST"):
            assert env_name(name, what) == f"IPCVIZ_{env_stem(name)}_{what}"
