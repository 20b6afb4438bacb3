"""The HTTP side of `ipcviz serve` (aiohttp, from textual-serve's dependencies).

Routes: `/` (the picker) and `/lesson/NAME` (a served lesson) send the page; the page's
websocket (`/ws`, `/ws/NAME`) gets a session process of its own (session.py), driven
by textual-serve's AppService; `/static/` is textual-serve's terminal (textual.js,
xterm). A session ends when its websocket closes (the tab closed or reloaded): the app
is asked to quit, which stops its run and removes every process and object of it; one
that has not ended after STOP_WAIT seconds is sent SIGTERM (the same clean stop), then
SIGKILL (its runtime then ends and sweeps itself: it dies with its parent).

Every request passes `_guard` first: with a token, one without it (the `token` query
parameter, or the cookie a page loaded with it set) is refused; a websocket opened from
a page of another site (its Origin is not this server) is refused whatever the token,
so that a web page the teacher visits cannot drive a session; without a token (the default
address) a request must name this server as 127.0.0.1, localhost or [::1] in its Host
header, so that a site whose name was re-pointed at 127.0.0.1 cannot either (DNS
rebinding), and must come from a socket of this user's (the kernel's tables say whose):
any local user can connect to 127.0.0.1. At most `max_sessions`
sessions run at once; more are refused with a page that says so.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from ipcviz.serve.page import app_page, message_page
from ipcviz.serve.policy import LESSON_NAME, ServedPolicy

#: seconds a session may take to stop its run and end after its tab closed
STOP_WAIT = 10.0
#: seconds between SIGTERM and SIGKILL for a session that did not end
KILL_WAIT = 5.0


class _NoDownloads(DownloadManager):
    """AppService's download manager: ipcviz delivers no files to browsers."""

    async def cancel_app_downloads(self, app_service_id: str) -> None:
        return None

    async def create_download(self, **_: object) -> None:
        return None


class ServeServer:
    """The sessions of one `ipcviz serve`."""

    def __init__(self, policy: ServedPolicy, max_sessions: int, token: str | None,
                 port: int):
        self.policy = policy
        self.max_sessions = max_sessions
        self.token = token
        self.cookie = f"ipcviz_token_{port}"
        #: without a token: the Host headers a request may carry
        self.local_hosts = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
        #: the sessions running now (a slot is taken before the first await)
        self.sessions: set[AppService] = set()
        self._taken = 0
        import textual_serve

        #: textual-serve's terminal page assets (textual.js, xterm.css, its font)
        self.static = Path(textual_serve.__file__).parent / "static"

    def command(self, lesson: str | None) -> str:
        """The session's command line (AppService runs it with the shell): only this
        server's policy and a lesson name it matched, quoted."""
        argv = [sys.executable, "-m", "ipcviz.serve.session", *self.policy.argv()]
        if lesson is not None:
            argv.append(f"--lesson={lesson}")
        return "exec " + shlex.join(argv)

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.add_routes([
            web.get("/", self.index),
            web.get("/lesson/{name}", self.index),
            web.get("/ws", self.websocket),
            web.get("/ws/{name}", self.websocket),
            web.static("/static", self.static),
        ])
        app.on_shutdown.append(self._stop_all)
        return app

    # ------------------------------------------------------------ refusals

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        if self.token is None and (outsider := _other_user(request)):
            return web.Response(status=403, text=outsider)
        if self.token is None and request.host not in self.local_hosts:
            return web.Response(status=403, text="ipcviz serve: refused: open this server "
                                "as 127.0.0.1 or localhost\n")
        if self.token is not None:
            given = request.query.get("token") or request.cookies.get(self.cookie) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return web.Response(status=403, text="ipcviz serve: refused: this server "
                                    "needs its token (open the address it printed)\n")
        if request.path.startswith("/ws") and not self._same_origin(request):
            return web.Response(status=403, text="ipcviz serve: refused: a page of "
                                "another site may not open a session\n")
        response = await handler(request)
        if self.token is not None and request.query.get("token") and \
                isinstance(response, web.Response):
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict")
        return response

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    def _lesson(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """The lesson a route names (None: the picker), or the page refusing it."""
        name = request.match_info.get("name")
        if name is None:
            return None, None
        if not LESSON_NAME.match(name) or name not in self.policy.lessons():
            return None, web.Response(status=404, content_type="text/html", text=message_page(
                "no such lesson", f"no served lesson is named {name!r}; the picker at / "
                "lists them"))
        return name, None

    def _full(self) -> web.Response | None:
        if self._taken < self.max_sessions:
            return None
        return web.Response(status=503, content_type="text/html", text=message_page(
            "full", f"all {self.max_sessions} sessions of this server are in use "
            "(--max-sessions); try again when a tab closes"))

    # ------------------------------------------------------------ routes

    async def index(self, request: web.Request) -> web.Response:
        lesson, refused = self._lesson(request)
        refused = refused or self._full()
        if refused is not None:
            return refused
        ws_path = "/ws" if lesson is None else f"/ws/{lesson}"
        return web.Response(content_type="text/html", text=app_page(ws_path),
                            headers={"Cache-Control": "no-store"})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        lesson, refused = self._lesson(request)
        refused = refused or self._full()
        if refused is not None:
            return refused
        self._taken += 1  # before any await: two tabs at once cannot take one last slot
        service: AppService | None = None
        socket = web.WebSocketResponse(heartbeat=15)
        try:
            await socket.prepare(request)
            width = _size(request.query.get("width"), 80)
            height = _size(request.query.get("height"), 24)

            async def close() -> None:
                await socket.close()

            service = AppService(self.command(lesson), write_bytes=socket.send_bytes,
                                 write_str=socket.send_str, close=close,
                                 download_manager=_NoDownloads())
            self.sessions.add(service)
            await service.start(width, height)
            await _relay(socket, service)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            if service is not None:
                await stop_session(service)
                self.sessions.discard(service)
            self._taken -= 1
        return socket

    async def _stop_all(self, app: web.Application) -> None:
        await asyncio.gather(*(stop_session(s) for s in list(self.sessions)))


async def _relay(socket: web.WebSocketResponse, service: AppService) -> None:
    """The browser's messages to the session: key presses and sizes, nothing else."""
    async for message in socket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = json.loads(message.data)
            kind = envelope[0]
        except (ValueError, TypeError, IndexError, KeyError):
            continue
        if kind == "stdin" and len(envelope) > 1 and isinstance(envelope[1], str):
            await service.send_bytes(envelope[1].encode("utf-8"))
        elif kind == "resize" and len(envelope) > 1 and isinstance(envelope[1], dict):
            await service.set_terminal_size(_size(envelope[1].get("width"), 80),
                                            _size(envelope[1].get("height"), 24))
        elif kind == "ping" and len(envelope) > 1:
            await socket.send_json(["pong", str(envelope[1])[:32]])


def _size(value: object, default: int) -> int:
    """A terminal dimension from the browser, kept within what a screen can be."""
    try:
        number = int(str(value))
    except ValueError:
        return default
    return max(10, min(number, 500))


async def stop_session(service: AppService) -> None:
    """End a session: quit (its run is stopped and swept), then SIGTERM, then SIGKILL."""
    process = service._process
    try:
        await asyncio.wait_for(service.stop(), STOP_WAIT)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
    if process is None:
        return
    for signal_it in (None, process.terminate, process.kill):
        if signal_it is not None:
            try:
                signal_it()
            except ProcessLookupError:
                pass
        try:
            await asyncio.wait_for(process.wait(), KILL_WAIT)
            return
        except asyncio.TimeoutError:
            continue


def _other_user(request: web.Request) -> str | None:
    """Without a token the server is the user's own: any local user can connect to
    127.0.0.1, so a connection whose other end the kernel does not show as this user's
    (/proc/net/tcp) is refused, in one line; None for the user's own."""
    from ipcviz.channels.peers import tcp_peer_uid

    transport = request.transport
    uid = tcp_peer_uid(transport.get_extra_info("socket")) if transport else None
    if uid == os.getuid():
        return None
    who = "a process the kernel does not show" if uid is None else f"uid {uid}"
    return (f"ipcviz serve: refused: a connection from {who}; without a token only you "
            "may connect (for others: --host ADDRESS, with the token it prints)\n")
