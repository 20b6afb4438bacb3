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

from ipcviz.serve.policy import LESSON_NAME, ServedPolicy


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
    from ipcviz.tui.served import make_served_app

    app = make_served_app(policy, lesson)
    try:
        app.run()
    finally:
        app._stop_source()
    return 0


if __name__ == "__main__":
    sys.exit(main())
