"""`python -m ipcviz.serve.session`: the process one browser tab gets from `ipcviz serve`.

The server starts it with the policy in its argv (policy.py) and, when the tab's URL
named one, the lesson (a name the server already matched against the served ones); it
runs the sandboxed app (tui/served.py) on Textual's web driver, which the server's
AppService talks to over standard input and output. It dies with the server
(PR_SET_PDEATHSIG: SIGTERM, which stops the run and sweeps it like `q`).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING

from ipcviz.serve.policy import LESSON_NAME, ServedPolicy

if TYPE_CHECKING:
    from ipcviz.tui.source import LiveSource


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ipcviz.serve.session")
    parser.add_argument("--lesson")
    parser.add_argument("--scenarios")
    parser.add_argument("--allow-exec", action="store_true")
    parser.add_argument("--max-workers", type=int, required=True)
    parser.add_argument("--max-run", type=float, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ipcviz.host.process import die_with_parent

    if not die_with_parent(signal.SIGTERM):  # the server is already gone
        return 1
    args = _parser().parse_args(argv)
    policy = ServedPolicy(args.scenarios, args.allow_exec, args.max_workers, args.max_run)
    lesson = None
    if args.lesson is not None:
        lesson = policy.lessons().get(args.lesson) if LESSON_NAME.match(args.lesson) else None
        if lesson is None:
            print(f"ipcviz serve: no served lesson {args.lesson!r}", file=sys.stderr)
            return 2
    from ipcviz.host.runroot import RunRootError, trusted_run_root

    try:
        trusted_run_root()
    except RunRootError as exc:
        print(f"ipcviz serve: {exc}", file=sys.stderr)
        return 2
    source = None if lesson is None else _early_run(policy, lesson)
    try:
        from ipcviz.tui.served import make_served_app

        app = make_served_app(policy, lesson, source)
        try:
            app.run()
        finally:
            app._stop_source()
    finally:
        if source is not None:  # (stopped already when the app ran it; again is harmless)
            source.stop()
    return 0


def _early_run(policy: ServedPolicy, lesson: object) -> LiveSource | None:
    """The lesson's run, started while Textual is imported (as `ipcviz launch` does), when
    the policy lets it run; None otherwise (the app then says why)."""
    from ipcviz.scenario.load import ScenarioError, load_opened
    from ipcviz.scenario.opening import open_scenario
    from ipcviz.tui.source import LiveSource

    try:
        opened = open_scenario(str(lesson))
        if policy.refusal(load_opened(opened)) is not None:
            return None
    except ScenarioError:
        return None
    source = LiveSource(opened, None, policy.allow_exec, held=True)
    source.spawn()
    return source


if __name__ == "__main__":
    sys.exit(main())
