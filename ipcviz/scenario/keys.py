"""Trigger keys: which `key:` values a key press in the live view can produce, and which
of those the app, Textual or the terminal takes before a trigger could see them.

The live view binds a trigger's key with Textual (`App.bind`), which reads a key string
its own way: a comma separates several keys (`"x,q"` would also take `q`, and `","`
is an error that ends the app), one character is renamed (`!` is `exclamation_mark`),
and a name it does not know never fires. So the loader accepts exactly what a key
press gives: one printable character, a key name of Textual's, or `alt+` a letter or
digit; and it compares keys by the name Textual gives them, so `?` and `question_mark`
are the same key.

The scenario package does not import Textual (tests/test_import_hygiene.py): the names
are written out here, and tests/test_trigger_keys.py checks them against Textual's.
"""

from __future__ import annotations

import string
import unicodedata

#: Key names Textual's input gives for keys that are not one printable character
#: (textual.keys.Keys, less its placeholders such as `<any>`)
NAMED_KEYS = frozenset(
    ["escape", "shift+escape", "return", "ctrl+@", "ctrl-at", "tab", "space", "enter",
     "backspace", "shift+tab", "ctrl+backslash", "ctrl+right_square_bracket",
     "ctrl+circumflex_accent", "ctrl+underscore", "insert", "delete", "home", "end",
     "pageup", "pagedown", "left", "right", "up", "down"]
    + [f"ctrl+{c}" for c in string.ascii_lowercase + string.digits]
    + [f"ctrl+shift+{d}" for d in string.digits]
    + [f"{mod}{key}" for mod in ("ctrl+", "shift+", "ctrl+shift+")
       for key in ("left", "right", "up", "down", "home", "end", "insert", "delete",
                   "pageup", "pagedown")]
    + [f"{mod}f{n}" for mod in ("", "ctrl+") for n in range(1, 25)]
)

#: Other spellings Textual accepts for a key, and the key they are
ALIASES = {"ctrl+i": "tab", "ctrl+m": "enter", "return": "enter",
           "ctrl+left_square_brace": "escape", "ctrl+left_square_bracket": "escape",
           "ctrl+[": "escape", "ctrl+space": "ctrl+@", "ctrl-at": "ctrl+@", "ctrl+at": "ctrl+@",
           "newline": "ctrl+j"}

#: What the terminal or Textual does with a key before the app's bindings see it
TAKEN_BEFORE_THE_APP = {
    "ctrl+q": "Textual's quit",
    "ctrl+c": "quit",
    "tab": "focus next",
    "shift+tab": "focus previous",
    "escape": "the start of the terminal's escape sequences, and closes screens",
    "ctrl+h": "the byte many terminals send for backspace",
    "ctrl+j": "the terminal's newline",
    "ctrl+@": "the NUL byte",
}

#: Keys the live view binds itself (tui/app.py, the workers table); a trigger may not
#: take them. `z f F v e d T` are not here: they give way to a trigger (tui/layout_keys.py).
APP_KEYS = frozenset(
    "t k i s c u R p q S l n N".split()
    + ["space", "minus", "plus", "question_mark", "ctrl+r", "up", "down", "left", "right",
       "shift+left", "shift+right", "pageup", "pagedown", "home", "end", "enter"]
)

#: The keys a trigger may not use, by the name Textual gives them
TAKEN = APP_KEYS | frozenset(TAKEN_BEFORE_THE_APP)

_NAME_FIXES = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
               "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}


def character_key(char: str) -> str:
    """The name Textual gives the key that types `char` ('!' -> 'exclamation_mark',
    'x' -> 'x'), as textual.keys._character_to_key does."""
    if char.isalnum():
        return char
    try:
        name = unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        name = char
    return _NAME_FIXES.get(name, name)


#: names of the printable ASCII characters that are not letters or digits
CHARACTER_NAMES = frozenset(character_key(c) for c in string.punctuation)


def canonical_key(key: str) -> str:
    """The name Textual's bindings use for `key` (one character renamed, aliases
    resolved), for comparing keys: '?' and 'question_mark' are one key."""
    if len(key) == 1:
        key = character_key(key)
    return ALIASES.get(key, key)


def key_problem(key: str) -> str | None:
    """Why no key press gives `key` or a trigger may not take it, in words; None if it
    is a key a trigger can use."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")
           for c in key):
        return (f"key {key!a} has control, format or space characters: no key press makes "
                "it, and the help screen would send them to the terminal")
    if key == ",":  # Textual reads a comma as the separator of several keys
        return "',' separates keys in a binding: write this key as comma"
    if len(key) == 1:
        if unicodedata.normalize("NFKC", key) != key:
            return (f"key {key!a} is a compatibility form of "
                    f"'{unicodedata.normalize('NFKC', key)}': type that one")
    elif not _is_key_name(key):
        return (f"'{key}' is not a key (one character, or a name such as f5, ctrl+x, "
                "shift+up, alt+x, exclamation_mark)")
    name = canonical_key(key)
    same = "" if name == key else f" ('{key}' is {name})"
    if name in TAKEN_BEFORE_THE_APP:
        return (f"key '{key}' never reaches a trigger{same}: it is "
                f"{TAKEN_BEFORE_THE_APP[name]}")
    if name in APP_KEYS:
        return f"key '{key}' is built in{same} (taken: {' '.join(sorted(TAKEN))})"
    return None


def _is_key_name(key: str) -> bool:
    """A name of more than one character that a key press gives (Textual's spelling)."""
    if key in NAMED_KEYS or key in ALIASES or key in CHARACTER_NAMES:
        return True
    for prefix in ("alt+shift+", "alt+"):
        if key.startswith(prefix):
            rest = key[len(prefix):]
            letters = string.ascii_lowercase if prefix == "alt+shift+" else \
                string.ascii_lowercase + string.digits
            return len(rest) == 1 and rest in letters
    return False
