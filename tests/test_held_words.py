"""A worker held at its step boundary (a held start, `n`, a schedule between grants) is
"held" everywhere the frame names its state: the frame's data, the JSON summary entry
the result line and `expect:` read, the result line's `{worker.X.state}` and the workers
table. It was "running" or "sleeping" by turns (its looks at its control cell are short
sleeps), while the table said "held: waits for its step"."""

from __future__ import annotations

import asyncio

from ipcviz.telemetry.summary import worker_entry
from ipcviz.tui.app import make_app
from ipcviz.tui.panels import WorkersTable
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.result import ResultLine

from .conftest import SCENARIOS
from .test_tui_live import frames_later, wait_started
from .waiting import until

HELD_CELL = "held: waits for its step"


def table_rows(app) -> dict[str, str]:
    """The workers table's rows as drawn, by worker name (a row's first word)."""
    table = app.query_one(WorkersTable)
    rows = ("".join(s.text for s in table.render_line(y)).strip()
            for y in range(1, table.size.height))
    return {row.split()[0]: row for row in rows if row}


async def all_held_shown(pilot, app, names: tuple[str, ...], result: str | None) -> None:
    """Frame after frame while nothing moves: every worker the scheduler holds (it has a
    next operation) is "held" in the frame and its summary entry; the table and the
    result line say so too."""
    for _ in range(5):  # several frames: a look at the cell is an instant of R or S
        await frames_later(pilot, app, 1)
        frame = app.latest
        for name in names:
            worker = frame.worker(name)
            assert worker is not None and worker.next_op is not None, name
            assert (worker.state, worker_entry(worker)["state"]) == ("held", "held"), name

    def screen_says_held() -> bool:
        rows = table_rows(app)
        for name in names:
            assert HELD_CELL in rows[name], rows[name]
            assert "running" not in rows[name] and "sleeping" not in rows[name]
        if result is not None:
            assert result in app.query_one(ResultLine).plain
        return True

    await until(pilot, screen_says_held, message="the table and result line say held")


def test_held_workers_are_held_in_the_frame_the_result_line_and_the_table(
        nothing_left_behind) -> None:
    async def scenario() -> None:
        source = LiveSource(str(SCENARIOS / "deadlock_by_hand.yaml"), held=True)
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await until(pilot, lambda: all(w.next_op for w in app.latest.workers),
                        message="both workers at their first boundary")
            await all_held_shown(pilot, app, ("a", "b"), "· a held, b held")
            await pilot.press("n")  # the schedule's first entry: a acquires x
            await until(pilot, lambda: app.latest.channel("x").data["value"] == 0
                        and app.latest.worker("a").next_op is not None,
                        message="a took x and stands at its next boundary")
            await all_held_shown(pilot, app, ("a", "b"), "x held by a, y by – · a held, "
                                                         "b held")
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_held_start_without_a_schedule_shows_no_worker_running(nothing_left_behind) -> None:
    async def scenario() -> None:
        source = LiveSource(str(SCENARIOS / "mqueue_bounded.yaml"), held=True)
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await until(pilot, lambda: all(w.next_op for w in app.latest.workers),
                        message="every worker at its first boundary")
            names = tuple(w.name for w in app.latest.workers)
            assert len(names) >= 3
            await all_held_shown(pilot, app, names, None)
            await pilot.press("p")  # its own pause too: held, and the table says why
            first = names[0]
            await until(pilot, lambda: app.latest.worker(first).paused,
                        message=f"{first} paused")
            assert app.latest.worker(first).state == "held"
            await until(pilot, lambda: "paused (steps)" in table_rows(app)[first],
                        message=f"{first}'s row says paused (steps)")
            await pilot.press("q")

    asyncio.run(scenario())
