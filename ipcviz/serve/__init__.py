"""`ipcviz serve`: the app in browsers, one sandboxed session per tab (textual-serve).

command.py parses and checks the options and listens; server.py is the HTTP side (the
token, the session count, a session per websocket); session.py is the process a tab
gets; policy.py holds what a session may run; page.py the HTML. The sandboxed app itself
is tui/served.py.
"""
