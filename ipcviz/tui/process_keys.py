"""Keys that act on the selected worker's process: signals (a fixed key or any signal from
the picker), restart, pausing its steps and the race switch (its `lock:` off or on)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipcviz.protocol import PauseSteps, Restart, ResumeSteps, SendSignal, SetLock
from ipcviz.signals import parse_signal, signal_name
from ipcviz.tui.screens import SignalPicker

if TYPE_CHECKING:
    from ipcviz.tui.live_view import LiveView


class ProcessKeys:
    """`t k i s c u` (signals), `S` (any signal), `R`, `p` and `l`."""

    def __init__(self, app: LiveView) -> None:
        self.app = app

    def _gone(self, worker: str) -> bool:
        """True (and said) when the worker has exited: nothing can be sent to it."""
        latest = self.app.latest
        view = latest.worker(worker) if latest else None
        if view is not None and view.state == "exited":
            self.app.notify(f"{worker} has exited ({view.exit_text or 'ended'}): nothing "
                            "sent", timeout=3, markup=False)
            return True
        return False

    def signal(self, name: str) -> None:
        worker = self.app.selected_worker
        if worker is None or self._gone(worker):
            return
        self.app.send(SendSignal(worker, parse_signal(name)))
        self.app.notify(f"{name} → {worker}", timeout=2, markup=False)

    def signal_picker(self) -> None:
        """`S`: any signal, to the selected worker or to its whole group."""
        worker = self.app.selected_worker
        if worker is None:
            return
        latest = self.app.latest
        view = latest.worker(worker) if latest else None
        group = view.group if view is not None else worker

        def chosen(choice: tuple[int, bool] | None) -> None:
            if choice is not None:
                num, to_group = choice
                target = group if to_group else worker
                if not to_group and self._gone(worker):
                    return
                self.app.send(SendSignal(target, num))
                self.app.notify(f"{signal_name(num)} → {target}", timeout=2, markup=False)

        self.app.push_screen(SignalPicker(worker, group), chosen)

    def restart(self) -> None:
        worker = self.app.selected_worker
        if worker is not None:
            self.app.send(Restart(worker))

    def pause(self) -> None:
        worker = self.app.selected_worker
        if worker is None or self.app.latest is None:
            return
        view = self.app.latest.worker(worker)
        paused = view is not None and view.paused
        self.app.send(ResumeSteps(worker) if paused else PauseSteps(worker))

    def toggle_lock(self) -> None:
        """The race switch: the selected worker's `lock:` use off (or back on)."""
        worker = self.app.selected_worker
        if worker is None or self.app.latest is None:
            return
        view = self.app.latest.worker(worker)
        if view is not None and not view.uses_lock:
            self.app.notify(f"{worker} takes no lock: nothing to switch", timeout=3,
                            markup=False)
            return
        if self._gone(worker):
            return
        enabled = bool(view and view.lock_off)
        self.app.send(SetLock(worker, enabled))
        self.app.notify(f"{worker}: lock {'on' if enabled else 'OFF'}", timeout=2,
                        markup=False)
