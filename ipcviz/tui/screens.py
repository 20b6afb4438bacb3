"""Modal screens: help (keys) and the scenario picker."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ipcviz.format import escape_control
from ipcviz.tui.widgets.footer import KeyFooter

KEYS_HELP = (
    ("↑ ↓ / mouse", "select a worker"),
    ("t", "send SIGTERM to the selected worker"),
    ("k", "send SIGKILL (cannot be caught)"),
    ("i", "send SIGINT"),
    ("s / c", "SIGSTOP (freeze) / SIGCONT (resume)"),
    ("u", "send SIGUSR1"),
    ("S", "pick any signal, real-time ones too, for the worker or its group"),
    ("R", "restart the selected worker"),
    ("p", "pause / resume the worker's steps"),
    ("l", "switch the worker's lock off / on (the race condition switch)"),
    ("space", "pause / resume the whole run (the run clock stops)"),
    ("n", "every worker takes exactly one step (operation), then holds"),
    ("N, Enter", "only the selected worker takes one step"),
    ("- / +", "slower / faster: speed 1, 1/2, ... 1/64"),
    ("ctrl+r", "restart the whole scenario from the beginning, every object fresh"),
    ("replay", "space pause/play, - / + pace, ← / → one frame, shift+← / → one second"),
    ("tab", "move the focus: workers table, each panel, event log (arrows scroll it)"),
    ("z", "maximize the focused part (a panel below the edge too) / back to the layout"),
    ("d", "a watched program's shared memory as bytes, uint8, int32, int64, float64"),
    ("f / F", "event log: only the selected worker's lines / one kind of event"),
    ("v", "the scenario's YAML beside the panels: each worker's step marked"),
    ("T", "timeline: who sent what to whom, time going down, in the event log's place"),
    ("e", "edit the scenario file in $EDITOR; saved, it is checked and the run restarts"),
    ("?", "this help"),
    ("q", "quit: the run's processes and IPC objects are removed"),
)


class ProblemsScreen(ModalScreen[None]):
    """The problems of an edited scenario file, one line each, with their positions; the
    old run goes on underneath."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "close")]

    def __init__(self, path: str, lines: list[str]):
        super().__init__()
        self.path = path
        self.lines = lines

    def compose(self) -> ComposeResult:
        body = Text(f"{self.path} does not load; the run goes on with the old version.\n\n",
                    style="bold")
        for line in self.lines[:30]:
            body.append(escape_control(line) + "\n", style="red")  # plain text: never markup
        body.append("\nFix it and save: it is checked again. Esc closes.", style="dim")
        with Vertical(id="help"):
            yield Static(body)


class HelpScreen(ModalScreen[None]):
    """Keys: the scenario's own triggers first, then the built-in ones; it scrolls
    (↑ ↓, page keys) where the screen is too short for all of it (80x24)."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, triggers: tuple[tuple[str, str], ...] = ()):
        super().__init__()
        self.triggers = triggers

    def compose(self) -> ComposeResult:
        from rich.console import Group
        from rich.table import Table

        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(overflow="fold")
        taken = {key for key, _ in self.triggers}
        if self.triggers:  # the lesson's own keys first: what it is about
            table.add_row(Text("this lesson", style="bold"), "")
            for key, label in self.triggers:  # the scenario's text: Text, never markup
                table.add_row(Text(key), Text(label))
            table.add_row("", "")
        for key, what in KEYS_HELP:
            parts = {k.strip() for k in key.replace("/", ",").split(",")}
            if parts & taken:  # a soft key the scenario's trigger has (listed above)
                what += " — in this scenario the key does its trigger instead"
            table.add_row(key, what)
        with VerticalScroll(id="help"):
            yield Static(Group(
                Text("ipcviz keys\n", style="bold"), table,
                Text("\nSignals go only to processes this run started. Esc closes.",
                     style="dim")))


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis when longer than `limit`."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


class PickerScreen(Screen[Path]):
    """The bundled scenarios with their descriptions; Enter opens one."""

    # (Enter with priority: the list's own Enter binding, not shown, would hide it from
    # the footer)
    BINDINGS = [Binding("enter", "choose", "open", priority=True),
                Binding("q,escape", "app.quit", "quit")]

    def __init__(self, entries: list[tuple[Path, str, str]]):
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        yield Static(Text(" ipcviz: pick a scenario (↑ ↓, Enter) ", style="bold reverse"),
                     id="picker-title")
        options = []
        for path, name, description in self.entries:
            prompt = Text(f"{path.stem}  ", style="bold")
            prompt.append(f"{name}\n", style="cyan")
            prompt.append(shorten(" ".join(description.split()), 230) or "(no description)")
            options.append(Option(prompt, id=str(path)))
        yield OptionList(*options, id="picker")
        yield KeyFooter()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(str(event.option.id)))

    def action_choose(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is not None:
            self.dismiss(Path(str(option_list.get_option_at_index(option_list.highlighted).id)))


class SignalPicker(ModalScreen[tuple[int, bool] | None]):
    """Every signal with its number and default action, like htop's "send signal" panel.

    Enter sends to the selected worker; `g` sends to its whole replica group.
    """

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "cancel"),
        Binding("enter", "choose(False)", "send to worker", priority=True),
        Binding("g", "choose(True)", "send to group"),
    ]

    def __init__(self, worker: str, group: str):
        super().__init__()
        self.worker = worker
        self.group = group

    def compose(self) -> ComposeResult:
        from ipcviz.signals import default_action, signal_name, valid_numbers

        options = []
        for num in valid_numbers():
            label = Text(f"{num:>3}  ", style="dim")
            label.append(f"{signal_name(num):<14}", style="bold")
            label.append(default_action(num), style="cyan")
            options.append(Option(label, id=str(num)))
        with Vertical(id="signal-picker"):
            yield Static(Text(f"Send a signal to {self.worker} (Enter) or to every "
                              f"{self.group} (g); Esc cancels", style="bold"))
            yield OptionList(*options, id="signal-list")

    def _chosen(self) -> int | None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is None:
            return None
        return int(str(option_list.get_option_at_index(option_list.highlighted).id))

    def action_choose(self, group: bool) -> None:
        num = self._chosen()
        if num is not None:
            self.dismiss((num, group))
