"""The trigger keys the loader accepts (scenario/keys.py, written out without Textual) are
Textual's own key names, and every key the app, its screens' defaults or Textual bind
is refused for a trigger (except the few that give way to one)."""

from __future__ import annotations

import string

import pytest
from textual.app import App
from textual.binding import Binding
from textual.keys import KEY_ALIASES, Keys, _character_to_key
from textual.screen import Screen

from ipcviz.scenario import keys
from ipcviz.scenario.load import ScenarioError, load_text
from ipcviz.tui.app import IpcvizApp
from ipcviz.tui.layout_keys import SOFT_KEYS
from ipcviz.tui.widgets.workers import WorkersTable


def test_the_named_keys_are_textuals() -> None:
    textual_names = {k.value for k in Keys if not k.value.startswith("<")}
    assert keys.NAMED_KEYS == textual_names


def test_characters_are_named_as_textual_names_them() -> None:
    for char in string.printable.strip():
        assert keys.character_key(char) == _character_to_key(char), char


def test_the_aliases_include_textuals() -> None:
    for key, aliases in KEY_ALIASES.items():
        for alias in aliases:
            assert keys.canonical_key(alias) == keys.canonical_key(key), alias


def _bound(*owners: type) -> set[str]:
    return {binding.key for owner in owners
            for binding in Binding.make_bindings(getattr(owner, "BINDINGS", []))}


def test_every_key_the_app_binds_is_taken_unless_it_gives_way() -> None:
    bound = _bound(*IpcvizApp.__mro__, WorkersTable, App, Screen)
    bound = {k for key in bound for k in key.split(",")} - {"super+c"}
    missing = {k for k in bound - set(SOFT_KEYS) if keys.canonical_key(k) not in keys.TAKEN}
    assert missing == set()


@pytest.mark.parametrize("key", ["x", "X", "f5", "ctrl+x", "alt+x", "shift+up", "é",
                                 "exclamation_mark", "!", "comma", "delete", "ctrl+f12"])
def test_a_key_a_press_gives_is_accepted(key: str) -> None:
    text = (f"workers:\n  a: {{steps: [{{sleep: 1}}]}}\ntriggers:\n"
            f"  - {{key: {key!r}, label: go, kill: a}}\n")
    load_text(text.encode(), "f.yaml")


@pytest.mark.parametrize("key", ["ctrl+q", "ctrl+c", "tab", "shift+tab", "ctrl+i", "ctrl+m",
                                 "ctrl+[", "ctrl+h", "escape", "enter", "?", "+", "-",
                                 "shift+left", "q", ",", "x,q", "notakey", "Ctrl+x",
                                 "<any>", "ctrl+shift+x", "ｘ"])
def test_a_key_taken_first_or_no_key_is_refused_in_one_line(key: str) -> None:
    text = (f"workers:\n  a: {{steps: [{{sleep: 1}}]}}\ntriggers:\n"
            f"  - {{key: {key!r}, label: go, kill: a}}\n")
    with pytest.raises(ScenarioError) as info:
        load_text(text.encode(), "f.yaml")
    (line,) = info.value.lines
    assert line.startswith("f.yaml:4:11: triggers[0].key: "), line
