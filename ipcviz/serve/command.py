"""`ipcviz serve`: the app in browsers over HTTP, one sandboxed session per tab.

Everything is checked before anything listens or starts, and each problem is one line
with exit status 2: textual-serve missing (it is the optional extra `serve`), an option
out of range, a --scenarios directory others could write in, a port in use. Bound to
127.0.0.1 by default; bound anywhere else, every request must carry a token (--token,
else one generated here and printed, which unlike --token never shows in `ps`).
"""

from __future__ import annotations

import argparse
import errno
import math
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from ipcviz.serve.policy import (DEFAULT_MAX_RUN, DEFAULT_MAX_WORKERS, PolicyError,
                                 ServedPolicy, check_scenarios_dir)

if TYPE_CHECKING:
    from ipcviz.serve.server import ServeServer

#: tabs served at once unless --max-sessions says otherwise (each is an app and a run)
DEFAULT_MAX_SESSIONS = 4
#: the most --max-sessions may say: each session is two Python processes and a run
MOST_SESSIONS = 64
MISSING = ("ipcviz serve needs textual-serve, which is not installed: "
           "pip install 'ipcviz[serve]'")


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="serve the app to browsers (a classroom): each tab its own run",
        description="Serve ipcviz over HTTP with textual-serve: each browser tab gets its "
                    "own app and its own run, ended (every process and object removed) "
                    "when the tab closes. A served session is a sandbox: bundled lessons "
                    "only (and --scenarios DIR), no editor, no programs (exec:) unless "
                    "--allow-exec. Needs the extra: pip install 'ipcviz[serve]'.",
        epilog="examples:\n  ipcviz serve                      http://127.0.0.1:8000/\n"
               "  ipcviz serve --host 0.0.0.0       a classroom: prints the address with "
               "its token\n  open /lesson/pipe_oneway          a lesson directly",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; any other needs a "
                            "token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any)")
    serve.add_argument("--token", metavar="TEXT",
                       help="the secret every request must carry (default: none on "
                            "127.0.0.1, a generated one elsewhere)")
    serve.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS,
                       metavar="N", help=f"tabs at once (default {DEFAULT_MAX_SESSIONS}); "
                                         "more are refused with a page")
    serve.add_argument("--scenarios", metavar="DIR",
                       help="also serve the *.yaml files of this directory (yours, not "
                            "writable by others)")
    serve.add_argument("--allow-exec", action="store_true",
                       help="let served scenarios run programs (exec:) and watch processes "
                            "(attach:), bundled ones included")
    serve.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, metavar="N",
                       help="processes a served run may have at once, at worst (default "
                            f"{DEFAULT_MAX_WORKERS})")
    serve.add_argument("--max-run", type=float, default=DEFAULT_MAX_RUN, metavar="S",
                       help=f"seconds a served run lasts (default {DEFAULT_MAX_RUN:g})")


def serve_command(args: argparse.Namespace, fail: Callable[[list[str]], int]) -> int:
    try:
        import aiohttp  # noqa: F401
        import textual_serve  # noqa: F401
    except ImportError:
        return fail([MISSING])
    problems = _option_problems(args)
    policy = None
    if not problems:
        try:
            directory = None if args.scenarios is None else check_scenarios_dir(args.scenarios)
        except PolicyError as exc:
            problems.append(str(exc))
        else:
            policy = ServedPolicy(directory, args.allow_exec, args.max_workers, args.max_run)
    if problems or policy is None:
        return fail(problems)
    from ipcviz.host.runroot import RunRootError, trusted_run_root

    try:  # before a session starts anything, as for `launch`
        trusted_run_root()
    except RunRootError as exc:
        return fail([str(exc)])
    token = args.token
    if token is None and not _loopback(args.host):
        import secrets

        token = secrets.token_urlsafe(18)
    try:
        listener = _listen(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return fail([f"--port {args.port}: already in use on {args.host}; choose "
                         "another with --port"])
        return fail([f"cannot listen on {args.host} port {args.port}: "
                     f"{exc.strerror or exc}"])
    port = listener.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    print(f"ipcviz serve: {url}", flush=True)
    if args.host in ("0.0.0.0", "::"):
        print(f"  {args.host} is every address of this machine: give the students its name "
              "or address in place of it", flush=True)
    print(f"  {args.max_sessions} tabs at once; a tab's run ends when it closes; "
          "ctrl+c stops the server and every session", flush=True)
    import asyncio

    from ipcviz.serve.server import ServeServer

    server = ServeServer(policy, args.max_sessions, token, port)
    asyncio.run(_serve(server, listener))
    return 0


def _option_problems(args: argparse.Namespace) -> list[str]:
    problems = []
    if not 1 <= args.max_sessions <= MOST_SESSIONS:
        problems.append(f"--max-sessions: {args.max_sessions} is not in 1..{MOST_SESSIONS}")
    if not 0 <= args.port <= 65535:
        problems.append(f"--port: {args.port} is not in 0..65535")
    from ipcviz.host.limits import MAX_PROCESSES

    if not 1 <= args.max_workers <= MAX_PROCESSES:
        problems.append(f"--max-workers: {args.max_workers} is not in 1..{MAX_PROCESSES}")
    from ipcviz.scenario.schema import MAX_DURATION

    if not (math.isfinite(args.max_run) and 0 < args.max_run <= MAX_DURATION):
        problems.append(f"--max-run: {args.max_run} is not a number of seconds in "
                        f"(0, {MAX_DURATION}]")
    token = args.token
    if token is not None and (len(token) < 8 or not token.isascii() or not token.isprintable()
                              or any(c in token for c in " ;,\"\\")):
        problems.append("--token: use at least 8 printable ASCII characters, without "
                        "spaces, quotes, commas, semicolons or backslashes")
    if "\0" in args.host or not args.host:
        problems.append("--host: not an address")
    return problems


def _loopback(host: str) -> bool:
    """Only the default address (and its IPv6 twin) is served without a token: any other,
    127.0.0.2 included, is a choice to be reached in another way."""
    return host in ("127.0.0.1", "::1", "localhost")


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (OSError: in use, no such address)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


async def _serve(server: ServeServer, listener: socket.socket) -> None:
    """Serve until SIGINT, SIGTERM or SIGHUP; then every session is stopped and swept."""
    import asyncio

    from aiohttp import web

    runner = web.AppRunner(server.make_app(), handle_signals=False,
                           access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener, shutdown_timeout=15.0).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
