"""Time control keys in the live app (space, n, N, -, +), with real processes."""

from __future__ import annotations

import asyncio

from ipcviz.tui.app import make_app
from ipcviz.tui.source import LiveSource
from ipcviz.tui.widgets.status import StatusBar
from ipcviz.tui.widgets.workers import WorkersTable
from tests.test_tui_live import wait_started
from tests.waiting import until

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
    await until(pilot, lambda: all(counts(app).values()))  # both really running
    await pilot.press("space")
    await until(pilot, lambda: held(app))


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
        await until(pilot, lambda: app.latest.seq >= seq + 5)  # several new frames
        assert counts(app) == frozen
        assert app.latest.run_time == clock  # the run clock stands still
        table = app.query_one(WorkersTable)
        assert table.render_line(0).text.split()[-1] == "next"
        assert "load c" in table.render_line(1).text or \
            "store c" in table.render_line(1).text
        await pilot.press("space")
        await until(pilot, lambda: all(counts(app)[n] > frozen[n] for n in NAMES))
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
            await until(pilot, lambda: held(app) and all(
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
            await until(pilot, lambda: held(app) and kinds(app)["b"] != ops["b"])
            assert counts(app)["b"] == before["b"] + (ops["b"] == "store")
            assert counts(app)["a"] == before["a"] and kinds(app)["a"] == ops["a"]

    run(scenario_file, body)


def test_minus_and_plus_set_the_speed(scenario_file, nothing_left_behind) -> None:
    async def body(pilot, app) -> None:
        await wait_started(pilot, app)
        assert app.latest.speed == 1 and "×" not in header(app)
        await pilot.press("minus")
        await until(pilot, lambda: app.latest.speed == 0.5)
        await pilot.press("minus")
        await until(pilot, lambda: app.latest.speed == 0.25)
        assert "×1/4" in header(app)
        for _ in range(5):  # down to 1/64, and no further
            await pilot.press("minus")
        await until(pilot, lambda: app.latest.speed == 1 / 64)
        assert "×1/64" in header(app)
        await pilot.press("plus")
        await until(pilot, lambda: app.latest.speed == 1 / 32)
        for _ in range(7):  # up to 1, and no further
            await pilot.press("plus")
        await until(pilot, lambda: app.latest.speed == 1)
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
            await until(pilot, lambda: app.latest.speed == 0.5)
            await pilot.press("q")

    asyncio.run(scenario())


def test_launch_refuses_a_speed_that_is_not_one(capsys) -> None:
    from ipcviz.cli import main

    assert main(["launch", "pipe_two_way", "--speed", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "--speed: 0.3 is not a speed" in err and "Traceback" not in err


def test_ctrl_r_restarts_the_whole_run_with_fresh_processes(scenario_file,
                                                             nothing_left_behind) -> None:
    """ctrl+r: the old run's processes and objects are gone (its runtime says nothing is
    left), a new run starts from zero with new processes."""
    first = LiveSource(str(scenario_file(SCENARIO)))

    async def scenario() -> None:
        app = make_app(source=first)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await until(pilot, lambda: all(v > 1000 for v in counts(app).values()))
            old_pids = {w.pid for w in app.latest.workers}
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.latest is not None and app.source is not first)
            await wait_started(pilot, app)
            assert first.proc is None and first.leaks == {
                "processes": 0, "ipc_objects": 0, "details": []}
            assert not {w.pid for w in app.latest.workers} & old_pids
            assert app.latest.run_time < 5
            await pilot.press("q")
        assert app.source.leaks is not None and app.source.leaks["processes"] == 0

    asyncio.run(scenario())


def test_the_schedule_stepped_by_hand_is_kept_and_replays(scenario_file,
                                                          nothing_left_behind) -> None:
    """n, n, N on b: the run reports the schedule performed ('a b a b b'), which
    `run --schedule` follows on new processes to the same counts."""
    import json

    from .conftest import run_cli

    path = scenario_file(SCENARIO + "after_schedule: pause\n")
    source = LiveSource(str(path))
    stepped: dict[str, int] = {}

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_started(pilot, app)
            await pilot.press("space")  # at once: held before their first operation
            await until(pilot, lambda: held(app))
            start = counts(app)
            for key in ("n", "n"):
                ops = kinds(app)
                await pilot.press(key)
                await until(pilot, lambda: held(app) and all(
                    kinds(app)[n] != ops[n] for n in NAMES))
            await pilot.press("down")
            ops = kinds(app)
            await pilot.press("N")
            await until(pilot, lambda: held(app) and kinds(app)["b"] != ops["b"])
            stepped.update({n: counts(app)[n] - start[n] for n in NAMES})
            await pilot.press("q")

    asyncio.run(scenario())
    assert len(source.schedule) == 5
    assert sorted(source.schedule) == ["a", "a", "b", "b", "b"]
    result = run_cli("run", str(path), "--headless", "--json", "--schedule",
                     " ".join(source.schedule), "--duration", "3")
    summary = json.loads(result.stdout)
    assert summary["schedule"] == source.schedule
    assert summary["schedule_error"] is None
    for n in NAMES:  # the same operations on new processes: the same counts
        assert summary["workers"][n]["increments"].get(f"c{n}", 0) == stepped[n]


def test_replay_keys_pause_seek_and_end(nothing_left_behind) -> None:
    """A replay: space pauses (PAUSED in the header), right/left move one frame,
    shift+right one second, keys that act on processes are off, the end says so."""
    from pathlib import Path

    from ipcviz.tui.replay import ReplaySource
    from ipcviz.tui.source import read_recording

    frames = read_recording(str(Path(__file__).parent / "recordings" /
                                "signals_coalescing.jsonl"))
    source = ReplaySource(frames, speed=1.0)

    def frame(app) -> int:
        return app.latest.replay["frame"]

    async def scenario() -> None:
        app = make_app(source=source)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.latest is not None and frame(app) >= 3)
            await pilot.press("space")
            await until(pilot, lambda: app.latest.replay["paused"])
            assert "REPLAY" in header(app) and "PAUSED" in header(app)
            here = frame(app)
            await pilot.pause(0.5)  # nothing should happen: no event marks "no frame came"
            assert frame(app) == here  # paused: no frame goes by
            await pilot.press("right")
            await until(pilot, lambda: frame(app) == here + 1)
            await pilot.press("left")
            await pilot.press("left")
            await until(pilot, lambda: frame(app) == here - 1)
            at = app.latest.elapsed
            await pilot.press("shift+right")
            await until(pilot, lambda: abs(app.latest.elapsed - (at + 1)) < 0.11)
            assert app.check_action("signal", ("SIGUSR1",)) is False
            assert app.check_action("restart_all", ()) is False
            await pilot.press("plus", "plus", "plus", "plus")  # x16
            await pilot.press("space")
            await until(pilot, lambda: app.latest.replay["ended"], timeout=15)
            assert "end of recording" in header(app)
            assert frame(app) == len(frames)
            await pilot.press("q")

    asyncio.run(scenario())
