"""The HTML `ipcviz serve` sends: the page that runs textual-serve's terminal (textual.js
and xterm from its static files, nothing from elsewhere), and the one-message pages of a
refusal. Nothing a request carries is written into a page: the websocket's address is
worked out by the page's own script from where it was loaded."""

from __future__ import annotations

import html

_STYLE = """
  @font-face { font-family: "Roboto Mono";
               src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf"); }
  body { background: #0c181f; margin: 0; color: rgba(255, 255, 255, 0.95);
         font-family: "Roboto Mono", monospace; }
  .textual-terminal { width: 100vw; height: 100vh; opacity: 0; }
  body.-first-byte .textual-terminal { opacity: 1; }
  .note { position: absolute; inset: 0; display: flex; align-items: center;
          justify-content: center; text-align: center; font-size: 16px; z-index: 10; }
  body.-first-byte .starting, .ended { display: none; }
  body.-closed .ended { display: flex; background: #0c181f; }
"""

_APP = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>ipcviz</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<script src="/static/js/textual.js"></script>
<style>{style}</style>
</head>
<body>
<div class="note starting">ipcviz: starting your own run…</div>
<div class="note ended">ipcviz: this session has ended; its run was stopped and removed.<br>
Reload the page for a new one.</div>
<button id="start" hidden></button>
<div id="terminal" class="textual-terminal" data-font-size="16"
     data-path="{ws_path}"></div>
<script>
  (function () {{
    const element = document.getElementById("terminal");
    const url = new URL(element.dataset.path, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    element.dataset.sessionWebsocketUrl = url.href;
  }})();
</script>
</body>
</html>
"""

_MESSAGE = """<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>ipcviz: {title}</title><style>{style}</style></head>
<body><div class="note"><p>ipcviz: {text}</p></div></body>
</html>
"""


def app_page(ws_path: str) -> str:
    """The page of one session; `ws_path` is the server's own route (no user text)."""
    return _APP.format(style=_STYLE, ws_path=html.escape(ws_path, quote=True))


def message_page(title: str, text: str) -> str:
    """A page that only says `text` (a refusal: too many sessions, no such lesson)."""
    return _MESSAGE.format(style=_STYLE, title=html.escape(title), text=html.escape(text))
