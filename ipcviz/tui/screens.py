"""Modal screens: help (keys) and the scenario picker."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

KEYS_HELP = (
    ("↑ ↓ / mouse", "select a worker"),
    ("t", "send SIGTERM to the selected worker"),
    ("k", "send SIGKILL (cannot be caught)"),
    ("i", "send SIGINT"),
    ("s / c", "SIGSTOP (freeze) / SIGCONT (resume)"),
    ("u", "send SIGUSR1"),
    ("R", "restart the selected worker"),
    ("p", "pause / resume the worker's steps"),
    ("?", "this help"),
    ("q", "quit: every process and IPC object of the run is removed"),
)


class HelpScreen(ModalScreen[None]):
    """Keys, built-in and the scenario's own triggers."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, triggers: tuple[tuple[str, str], ...] = ()):
        super().__init__()
        self.triggers = triggers

    def compose(self) -> ComposeResult:
        text = Text("ipcviz keys\n\n", style="bold")
        for key, what in KEYS_HELP:
            text.append(f"  {key:<14}", style="bold cyan")
            text.append(f"{what}\n")
        if self.triggers:
            text.append("\nthis scenario's keys\n", style="bold")
            for key, label in self.triggers:
                text.append(f"  {key:<14}", style="bold cyan")
                text.append(f"{label}\n")
        text.append("\nSignals go only to processes this run started. Esc closes.", style="dim")
        with Vertical(id="help"):
            yield Static(text)


class PickerScreen(Screen[Path]):
    """The bundled scenarios with their descriptions; Enter opens one."""

    BINDINGS = [Binding("q,escape", "app.quit", "quit"), Binding("enter", "choose", "open")]

    def __init__(self, entries: list[tuple[Path, str, str]]):
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        yield Static(Text(" ipcviz: pick a scenario (↑ ↓, Enter) ", style="bold reverse"),
                     id="picker-title")
        options = []
        for path, name, description in self.entries:
            prompt = Text(f"{path.stem}", style="bold")
            prompt.append(f"  {name}\n", style="cyan")
            prompt.append(" ".join(description.split())[:220] or "(no description)", style="")
            options.append(Option(prompt, id=str(path)))
        yield OptionList(*options, id="picker")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(str(event.option.id)))

    def action_choose(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is not None:
            self.dismiss(Path(str(option_list.get_option_at_index(option_list.highlighted).id)))
