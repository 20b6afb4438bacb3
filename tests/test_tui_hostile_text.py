"""User text is drawn as text, never read as Rich markup: a scenario's name, description,
trigger labels, worker and channel names, events and toasts. `[/] closing nothing [red`
used to crash the app (and the crash exited 0)."""

from __future__ import annotations

import asyncio
import html
import json
import re

from ipcviz.telemetry.snapshot import Snapshot
from ipcviz.tui.app import make_app
from ipcviz.tui.screens import HelpScreen
from ipcviz.tui.source import FixedSource, LiveSource
from ipcviz.tui.widgets.source_view import SourceView
from tests.conftest import ROOT
from tests.waiting import until

HOSTILE = "[/] closing nothing [red"
HOSTILE_2 = "[bold]not bold[/bold] [link=x]y"


def screen_text(app) -> str:
    """Every character on screen, as the terminal would show it."""
    svg = app.export_screenshot()
    cells = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(cells)).replace("\xa0", " ")


async def help_shown(pilot, app) -> None:
    """Until the help screen is up and painted."""
    await until(pilot, lambda: isinstance(app.screen, HelpScreen), message="the help screen")
    await pilot.pause()


def hostile_frames() -> list[Snapshot]:
    """The recorded deadlock run with every user-supplied string made hostile (a recording
    is a file from someone else too: its names are not checked like a scenario's)."""
    lines = (ROOT / "tests" / "recordings" / "deadlock.jsonl").read_text().splitlines()[:6]
    frames = []
    for line in lines:
        data = json.loads(line)
        data["scenario"] = HOSTILE
        data["description"] = HOSTILE_2
        data["triggers"] = [["x", HOSTILE]]
        renames = {"a": f"a{HOSTILE}", "lock_a": f"lock{HOSTILE_2}"}
        for w in data["workers"]:
            w["name"] = renames.get(w["name"], w["name"])
            w["group"] = renames.get(w["group"], w["group"])
        for c in data["channels"]:
            c["name"] = renames.get(c["name"], c["name"])
        data["events"] = [dict(e, worker=renames.get(e["worker"], e["worker"]),
                               text=f"{e['text']} {HOSTILE}") for e in data["events"]]
        frames.append(Snapshot.from_dict(data))
    return frames


def test_hostile_strings_in_every_panel_render_literally() -> None:
    async def scenario() -> None:
        frames = hostile_frames()
        source = FixedSource(frames)
        app = make_app(source=source)
        async with app.run_test(size=(140, 50)) as pilot:
            await until(pilot, lambda: app.latest is frames[-1], message="the last frame")
            await pilot.pause()  # and painted
            shown = screen_text(app)
            assert HOSTILE in shown  # the status bar's scenario name, the events
            assert HOSTILE_2 in shown  # the description, verbatim
            assert f"a{HOSTILE}" in shown  # a worker name
            await pilot.press("t")  # SIGTERM to the selected worker: a toast naming it
            await until(pilot, lambda: list(app._notifications), message="a toast")
            from textual.widgets._toast import Toast

            toasts = [Toast(n) for n in app._notifications]
            assert [str(t.render()) for t in toasts] == [f"SIGTERM → a{HOSTILE}"]
            await pilot.press("question_mark")  # help, with the trigger's label
            await help_shown(pilot, app)
            assert HOSTILE in screen_text(app)
            await pilot.press("escape")
            await pilot.press("q")
        assert app.return_code == 0
        assert source.commands[0]["arg"]["to"] == f"a{HOSTILE}"

    asyncio.run(scenario())


def test_a_hostile_scenario_runs_live_in_the_app(scenario_file, nothing_left_behind) -> None:
    path = scenario_file(f"""
name: '{HOSTILE}'
description: '{HOSTILE_2} {HOSTILE}'
duration: 60
workers:
  w: {{handlers: {{SIGUSR1: count}}}}
triggers:
  - {{key: x, label: '{HOSTILE}', signal: {{to: w, sig: SIGUSR1}}}}
""")
    source = LiveSource(str(path))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None
                        and app.latest.worker("w").state == "sleeping", message="w asleep")
            # the description panel may be drawn a frame after the worker is seen asleep
            await until(pilot, lambda: HOSTILE in screen_text(app)
                        and f"{HOSTILE_2} {HOSTILE}" in screen_text(app),
                        message="the hostile name and description shown as text")
            await pilot.press("x")  # the trigger with the hostile label
            await until(pilot, lambda: app.latest.worker("w").signals_received.get("SIGUSR1")
                        == 1, message="w's SIGUSR1 counted")
            await pilot.press("question_mark")
            await help_shown(pilot, app)
            assert HOSTILE in screen_text(app)
            await pilot.press("escape")
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(scenario())


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_control_characters_never_reach_the_terminal(scenario_file, tmp_path,
                                                     nothing_left_behind) -> None:
    """An OSC sequence in a description set the terminal's title; ANSI escapes in the bytes
    a pipe carried went out raw with its last read. Every string of a Snapshot (live, or
    read from a recording, someone else's file too) and the `v` view of the file show
    control characters as \\x1b, \\x07, \\u202e."""
    path = scenario_file(r"""
name: "t \e]2;PWNED\a"
description: "x \e]2;PWNED\a y \u202e"
duration: 60
channels:
  p: {kind: pipe}
workers:
  w:
    steps:
      - write: {to: p, data: "\e[31mred\e[0m"}
      - sleep: 60
  r:
    steps:
      - read: {from: p, bytes: 64}
      - sleep: 60
""")
    source = LiveSource(str(path))
    frames: list[Snapshot] = []

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None
                        and app.latest.channel("p").data.get("last_read"),
                        message="the pipe's last read")
            frames.append(app.latest)
            shown = screen_text(app)
            assert "x \\x1b]2;PWNED\\x07 y \\u202e" in shown
            assert not CONTROL.search(shown)
            await pilot.press("v")  # the file itself, beside the panels
            view = app.query_one(SourceView)
            await until(pilot, lambda: view.display and view.region.width > 0,
                        message="the YAML view laid out")
            await pilot.pause()  # and painted
            shown = screen_text(app)
            assert "\\x1b]2;PWNED" in shown and not CONTROL.search(shown)
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(scenario())
    snap = frames[0]
    assert snap.channel("p").data["last_read"]["r"][0].startswith("\\x1b[31mred")
    assert not CONTROL.search(json.dumps(snap.to_dict(), ensure_ascii=False))
    # a recording from someone else: the same escaping when it is read
    raw = snap.to_dict()
    raw["description"] = "\x1b]2;OWNED\x07"
    raw["workers"][0]["name"] = "w\x1b[2J"
    recording = tmp_path / "hostile.jsonl"
    recording.write_text(json.dumps(raw) + "\n")
    from ipcviz.tui.source import read_recording

    (read,) = read_recording(str(recording))
    assert read.description == "\\x1b]2;OWNED\\x07"
    assert read.workers[0].name == "w\\x1b[2J"


def test_the_fast_path_never_skips_a_character_that_needs_escaping() -> None:
    """A frame whose JSON line cannot hold a control character is not walked string by
    string (a 64x64 array is 4,096 numbers a frame): for every character the escaping
    would change, its JSON (escaped or raw) takes the slow path."""
    from ipcviz.format import escape_control
    from ipcviz.tui.source import may_hold_control

    codes = list(range(0x3000)) + [0xFEFF, 0xFFF9, 0xFFFB, 0xE0001, 0x10FFFD]
    for code in codes:
        ch = chr(code)
        if escape_control(ch) != ch and ch != "\n":
            for text in (json.dumps({"t": ch}), json.dumps({"t": ch}, ensure_ascii=False)):
                assert may_hold_control(text), hex(code)
    assert not may_hold_control(json.dumps({"values": [[1, 2], [3, 4]], "d": "a\nb"}))
