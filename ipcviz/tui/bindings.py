"""The live view's keys: what each one does, in the footer's order, and which of them act
on a live run's processes."""

from __future__ import annotations

from textual.binding import Binding, BindingType

BINDINGS: list[BindingType] = [
    # `?` and `q` first: the footer fills from the left and a narrow terminal cuts
    # its right end, so these two are always in view
    Binding("question_mark", "help", "help"),
    Binding("q", "quit", "quit"),
    # then time (every lesson), then the signals and the race switch (some lessons)
    Binding("space", "toggle_run", "pause run"),
    Binding("n", "step_all", "step all"),
    Binding("N", "step_worker", "step one"),
    Binding("minus", "speed(-1)", "slower"),
    Binding("plus", "speed(1)", "faster"),
    Binding("t", "signal('SIGTERM')", "TERM"),
    Binding("k", "signal('SIGKILL')", "KILL"),
    Binding("i", "signal('SIGINT')", "INT"),
    Binding("s", "signal('SIGSTOP')", "STOP"),
    Binding("c", "signal('SIGCONT')", "CONT"),
    Binding("u", "signal('SIGUSR1')", "USR1"),
    Binding("S", "signal_picker", "any signal"),
    Binding("R", "restart", "restart"),
    Binding("p", "pause", "pause steps"),
    Binding("l", "toggle_lock", "lock on/off"),
    Binding("enter", "step_worker", "step one", show=False),
    Binding("ctrl+r", "restart_all", "restart run", show=False),
    Binding("z", "maximize_toggle", "maximize", show=False),
    Binding("d", "shm_dtype", "shm as", show=False),
    Binding("f", "filter_worker", "events of worker", show=False),
    Binding("F", "filter_kind", "events by kind", show=False),
    Binding("v", "view_source", "YAML", show=False),
    Binding("T", "timeline", "timeline", show=False),
    Binding("e", "edit_source", "edit", show=False),
    Binding("left", "seek(-1, 0)", "frame back", show=False, priority=True),
    Binding("right", "seek(1, 0)", "frame on", show=False, priority=True),
    Binding("shift+left", "seek(0, -1)", "1 s back", show=False, priority=True),
    Binding("shift+right", "seek(0, 1)", "1 s on", show=False, priority=True),
    Binding("ctrl+c", "quit", "quit", show=False, priority=True),
]

#: actions of the live view: none of them over the picker
LIVE_ACTIONS = frozenset({"signal", "signal_picker", "restart", "pause", "trigger", "help",
                          "toggle_lock", "toggle_run", "step_all", "step_worker",
                          "speed", "restart_all", "seek", "view_source", "edit_source",
                          "maximize_toggle", "filter_worker", "filter_kind",
                          "timeline"})
#: keys that act on processes: a replay has none (its keys are space, -/+ and seeking)
PROCESS_ACTIONS = frozenset({"signal", "signal_picker", "restart", "pause", "trigger",
                             "toggle_lock", "step_all", "step_worker", "restart_all",
                             "edit_source"})
