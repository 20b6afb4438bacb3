"""Bottom layer: what ipcviz needs from the operating system (process identity, the run root, the
registry of a run's objects). Imports nothing from the other ipcviz packages."""
