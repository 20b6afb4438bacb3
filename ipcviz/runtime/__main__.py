"""`python -m ipcviz.runtime --source-fd=N --source=JSON`: the runtime process the TUI
starts (tui/source.py runtime_process), on the scenario bytes it passes."""

import sys

from ipcviz.runtime.control import main

sys.exit(main())
