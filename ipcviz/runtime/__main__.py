"""`python -m ipcviz.runtime SCENARIO`: the runtime process the TUI starts."""

import sys

from ipcviz.runtime.control import main

sys.exit(main())
