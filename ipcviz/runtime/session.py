"""One session loop for every front end: the live UI (frames over a pipe), the headless
summary and a recording all run a `Runtime` through `Session.run`, which paces the work
the same way for each of them and hands every Snapshot to a frame sink.

Pace: channels are observed every OBSERVE_INTERVAL (keeps maxima such as max_buffered
current), a frame is sampled every FRAME_INTERVAL (deadlocks need two in a row), and with
`early_frames` a frame also goes out as soon as the table shows news (EventWatch). A run
with a limit ends on its clock: no tick is begun that the last tick's cost says would be
read after the limit, and a turn that wakes after it samples nothing; the run's own last
reading follows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.signals import NSIG
from ipcviz.telemetry import table as T
from ipcviz.telemetry.snapshot import Snapshot

FRAME_INTERVAL = 0.1
#: how often every channel's kernel state is read between frames
OBSERVE_INTERVAL = 0.05
#: between frames, how often the table is glanced at for something worth showing at once
WATCH_INTERVAL = 0.005
#: at most one early frame between two ticks of the clock (so a storm of events costs at
#: most 20 frames/s), and never closer than this to the frame before it
MIN_FRAME_GAP = 0.02
#: after a command, what a person waits for is the workers' reaction, a few ms later: an
#: early frame at once would only show the command, then hold the next one back
COMMAND_HOLD = 0.004
#: a command's answer goes out even when the tick's early frame was spent, but never
#: closer than this to the frame before it (a held key repeats 30 times a second)
COMMAND_GAP = 0.01

#: how many of the last ticks' costs say whether one more fits before a run's limit
TICK_COSTS_KEPT = 3

#: Where frames go: the UI pipe, a recording, a list (tests), the headless summary's run.
FrameSink = Callable[[Snapshot], None]


class EventWatch:
    """Notices, cheaply, that something happened that a person is waiting to see: a signal
    counted, an event in a worker's ring, a runtime event (exit, timeline action). A frame
    then goes out at once instead of at the next tick of the 10 Hz clock."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._views: tuple[object, np.ndarray, np.ndarray] | None = None
        self.mark = self._signature()

    def _signature(self) -> tuple[int, int]:
        """The sums of every row's event count and signals received: a look between
        frames, many a second, so the table's columns are sliced once, not each time."""
        table = self.runtime.table
        if table is None:
            return (0, 0)
        arr = table.array
        if self._views is None or self._views[0] is not arr:
            self._views = (arr, arr[:, T.EVENT_SEQ], arr[:, T.SIG_RECEIVED:T.SIG_RECEIVED + NSIG])
        _, seqs, received = self._views
        return (int(seqs.sum()), int(received.sum()))

    def happened(self) -> bool:
        if self.runtime.pending_events:
            return True
        return self._signature() != self.mark

    def framed(self) -> None:
        """A frame was just sampled: what it shows is no longer news."""
        self.mark = self._signature()


class Session:
    """Runs a started `Runtime` until it is over, sampling frames into `sink`.

    `limit`: seconds after which the run is over, and it is also over once every worker
    has ended (headless, recording); None: only a stop request or the input ends it (live).
    `input_fd` and `on_input`: a descriptor to wait on with the runtime's own (the UI's
    commands); `on_input` reads it and returns False once the input is closed.
    `on_turn`: called once per loop turn (progress on a terminal).
    """

    def __init__(self, runtime: Runtime, sink: FrameSink, *, limit: float | None = None,
                 early_frames: bool = False, frame_interval: float = FRAME_INTERVAL,
                 input_fd: int | None = None, on_input: Callable[[], bool] | None = None,
                 on_turn: Callable[[], None] | None = None):
        self.runtime = runtime
        self.sampler = Sampler(runtime)
        self.sink = sink
        self.limit = limit
        self.early_frames = early_frames
        self.frame_interval = frame_interval
        self.input_fds = (input_fd,) if input_fd is not None else ()
        self.on_input = on_input
        self.on_turn = on_turn
        self.input_open = True
        self._watch: EventWatch | None = None
        #: wall seconds the last ticks' turns took (their readings of every process): a
        #: tick that could not be read before the limit is not begun
        self._tick_costs: deque[float] = deque(maxlen=TICK_COSTS_KEPT)
        if limit is not None:  # a schedule's time counts against the limit too
            runtime.scheduler.limit = limit

    def over(self) -> bool:
        """A stop request or closed input ends any run; a run with a `limit` (headless,
        recording) also ends after `limit` seconds of run time (slow motion stretches
        them; the time a schedule takes counts too, though the run clock stands still
        while it lasts), once every worker has ended, or when its schedule failed or
        ended with `after_schedule: pause`."""
        rt = self.runtime
        if rt.stop_requested or not self.input_open:
            return True
        if self.limit is None:
            return False
        scheduler = rt.scheduler
        return (self._spent() >= self.limit or rt.all_ended() or scheduler.error is not None
                or scheduler.mode == "pause")

    def _ends_first(self) -> bool:
        """Whether the run's limit comes before a tick begun now could be read, by the
        cheapest of the last ticks: a frame read past the end ends the run late (at 256
        workers a tick reads /proc for tens of milliseconds; a loaded machine makes it
        longer). The cheapest, not the longest: one tick the machine held up must not
        end a run's frames seconds early, and a tick that read its moment again (the
        run's first frames wait for their workers) is not counted at all."""
        if self.limit is None or not self._tick_costs:
            return False
        left = (self.limit - self._spent()) / self.runtime.scheduler.speed
        return left < min(self._tick_costs)

    def _spent(self) -> float:
        """Seconds of the limit used: run time and the schedule's time (scheduler.py)."""
        return self.runtime.scheduler.spent() if self.runtime.started else 0.0

    def _watch_wait(self, now: float, last_frame: float, hold_until: float,
                    early_sent: bool) -> float:
        """How long the loop may wait before the watch looks at the table again: every
        WATCH_INTERVAL once an early frame may go, and no look before then (the tick's
        early frame spent, too close to the last frame, a command's hold): such a look
        could show nothing, and an idle turn costs as much as a busy one. A runtime with
        something only a turn notices keeps turning every WATCH_INTERVAL."""
        if self.runtime.looks_each_turn:
            return WATCH_INTERVAL
        if early_sent:
            return float("inf")
        may_send = max(last_frame + MIN_FRAME_GAP, hold_until) - now
        return may_send if may_send > 0 else WATCH_INTERVAL

    def run(self) -> None:
        """The loop: wait for the runtime's work or the input, observe, sample, send."""
        rt = self.runtime
        next_frame = next_observe = last_frame = hold_until = 0.0
        early_sent = answer_due = False
        watch = self._watch = EventWatch(rt) if self.early_frames else None
        while not self.over():
            now = rt.elapsed
            answer_at = max(hold_until, last_frame + COMMAND_GAP)
            # a command's answer goes before a tick that falls due meanwhile (the tick
            # follows it at once), unless that tick is a whole interval late already
            defer = watch is not None and answer_due and now < next_frame + self.frame_interval
            wait = min(max(next_frame, answer_at) if defer else next_frame, next_observe) - now
            if watch is not None:
                wait = min(wait, self._watch_wait(now, last_frame, hold_until, early_sent))
                if answer_due:  # the answer is due at the end of the hold
                    wait = min(wait, answer_at - now)
            if self.limit is not None:
                wait = min(wait, (self.limit - self._spent()) / rt.scheduler.speed)
            if rt.poll(max(0.0, wait), extra_fds=self.input_fds) and self.on_input:
                self.input_open = self.on_input()
                hold_until = rt.elapsed + COMMAND_HOLD
                answer_due = True
            if self.on_turn is not None:
                self.on_turn()
            if self.limit is not None and self._spent() >= self.limit:
                break  # the clock ended the run while the loop waited (late, on a loaded
                # machine): a frame now would be of a moment after the end, and the
                # run's own last reading follows at once
            now = rt.elapsed
            if now >= next_observe:
                next_observe = now + OBSERVE_INTERVAL
                rt.observe_channels()
            answering = watch is not None and answer_due
            if now >= next_frame and not (answering and now < next_frame + self.frame_interval):
                if self._ends_first():  # the run's own last reading is its last frame
                    next_frame = float("inf")
                    continue
                last_frame, next_frame, early_sent = now, now + self.frame_interval, False
                tick = True  # the clock's tick
            elif answering and now >= max(hold_until, last_frame + COMMAND_GAP):
                # what a key did: show it now, from the table and the channels (a tick's
                # reading of every process's /proc would hold it back)
                last_frame, tick = now, False
            elif (watch is not None and not early_sent and now - last_frame >= MIN_FRAME_GAP
                  and now >= hold_until and watch.happened()):  # news: show it now
                last_frame, early_sent, tick = now, True, False
            else:
                continue
            answer_due = False
            if watch is not None:
                watch.framed()
            rereads = self.sampler.moments.stats.rereads
            self.sink(self.sampler.sample(kernel=tick))
            if tick and self.sampler.moments.stats.rereads == rereads:
                self._tick_costs.append(rt.elapsed - now)
