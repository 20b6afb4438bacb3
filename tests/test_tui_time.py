"""Time control keys in the live app (space, n, N, -, +), with real processes."""

from __future__ import annotations

import asyncio

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.status import StatusBar
from ipcviz.tui.widgets.workers import WorkersTable
from tests.test_tui_live import wait_for, wait_started

#: two workers, each adding 1 to its own counter for ever (an increment is a load then
#: a store: two operations)
SCENARIO = """
duration: 60
channels:
  ca: {kind: shared_array, dtype: int64, shape: [1]}
  cb: {kind: shared_array, dtype: int64, shape: [1]}
workers:
  a:
    loop: true
    steps:
      - increment: {array: ca, times: 1000}
  b:
    loop: true
    steps:
      - increment: {array: cb, times: 1000}
"""
NAMES = ("a", "b")


def counts(app) -> dict[str, int]:
    return {n: app.latest.worker(n).increments.get(f"c{n}", 0) for n in NAMES}


def kinds(app) -> dict[str, str | None]:
    return {n: (op.kind if (op := app.latest.worker(n).next_op) else None) for n in NAMES}


def held(app) -> bool:
    """Every worker is held at its boundary and says what it does next."""
    return app.latest.mode != "run" and all(k in ("load", "store") for k in kinds(app).values())


def header(app) -> str:
    return str(app.query_one(StatusBar).render())


async def pause_run(pilot, app) -> None:
    await wait_started(pilot, app)
    await wait_for(pilot, lambda: all(counts(app).values()))  # both really running
    await pilot.press("space")
    await wait_for(pilot, lambda: held(app))


def run(scenario_file, body) -> None:
    source = LiveSource(str(scenario_file(SCENARIO)))

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await body(pilot, app)
            await pilot.press("q")
        assert source.leaks is not None and source.leaks["processes"] == 0

    asyncio.run(scenario())


def test_space_pauses_and_resumes_the_whole_run(scenario_file, nothing_left_behind) -> None:
    async def body(pilot, app) -> None:
        await pause_run(pilot, app)
        assert app.latest.mode == "pause"
        assert "PAUSED" in header(app)
        frozen, clock, seq = counts(app), app.latest.run_time, app.latest.seq
        await wait_for(pilot, lambda: app.latest.seq >= seq + 5)  # several new frames
        assert counts(app) == frozen
        assert app.latest.run_time == clock  # the run clock stands still
        table = app.query_one(WorkersTable)
        assert table.render_line(0).text.split()[-1] == "next"
        assert "load c" in table.render_line(1).text or \
            "store c" in table.render_line(1).text
        await pilot.press("space")
        await wait_for(pilot, lambda: all(counts(app)[n] > frozen[n] for n in NAMES))
        assert app.latest.mode == "run" and "PAUSED" not in header(app)
        assert app.latest.run_time > clock

    run(scenario_file, body)


def test_n_steps_every_worker_by_exactly_one_operation(scenario_file,
                                                        nothing_left_behind) -> None:
    async def body(pilot, app) -> None:
        await pause_run(pilot, app)
        for _ in range(4):
            before, ops = counts(app), kinds(app)
            await pilot.press("n")
            # each worker performed its one operation and is held again at the next one
            await wait_for(pilot, lambda: held(app) and all(
                kinds(app)[n] != ops[n] for n in NAMES))
            for n in NAMES:  # a store completes an increment; a load does not
                assert counts(app)[n] == before[n] + (ops[n] == "store"), (n, ops)
                assert kinds(app)[n] == ("load" if ops[n] == "store" else "store")
            assert app.latest.mode == "step"

    run(scenario_file, body)


def test_shift_n_steps_only_the_selected_worker(scenario_file, nothing_left_behind) -> None:
    async def body(pilot, app) -> None:
        await pause_run(pilot, app)
        await pilot.press("down")
        assert app.query_one(WorkersTable).selected_worker == "b"
        for _ in range(2):
            before, ops = counts(app), kinds(app)
            await pilot.press("N")
            await wait_for(pilot, lambda: held(app) and kinds(app)["b"] != ops["b"])
            assert counts(app)["b"] == before["b"] + (ops["b"] == "store")
            assert counts(app)["a"] == before["a"] and kinds(app)["a"] == ops["a"]

    run(scenario_file, body)


def test_minus_and_plus_set_the_speed(scenario_file, nothing_left_behind) -> None:
    async def body(pilot, app) -> None:
        await wait_started(pilot, app)
        assert app.latest.speed == 1 and "×" not in header(app)
        await pilot.press("minus")
        await wait_for(pilot, lambda: app.latest.speed == 0.5)
        await pilot.press("minus")
        await wait_for(pilot, lambda: app.latest.speed == 0.25)
        assert "×1/4" in header(app)
        for _ in range(5):  # down to 1/64, and no further
            await pilot.press("minus")
        await wait_for(pilot, lambda: app.latest.speed == 1 / 64)
        assert "×1/64" in header(app)
        await pilot.press("plus")
        await wait_for(pilot, lambda: app.latest.speed == 1 / 32)
        for _ in range(7):  # up to 1, and no further
            await pilot.press("plus")
        await wait_for(pilot, lambda: app.latest.speed == 1)
        assert "×" not in header(app)

    run(scenario_file, body)


def test_launch_speed_starts_the_live_run_in_slow_motion(scenario_file,
                                                         nothing_left_behind) -> None:
    """`ipcviz launch --speed 0.25`: the runtime process starts at that speed."""
    source = LiveSource(str(scenario_file(SCENARIO)), speed=0.25)

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            assert app.latest.speed == 0.25 and "×1/4" in header(app)
            await pilot.press("plus")
            await wait_for(pilot, lambda: app.latest.speed == 0.5)
            await pilot.press("q")

    asyncio.run(scenario())


def test_launch_refuses_a_speed_that_is_not_one(capsys) -> None:
    from ipcviz.cli import main

    assert main(["launch", "pipe_two_way", "--speed", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "--speed: 0.3 is not a speed" in err and "Traceback" not in err
