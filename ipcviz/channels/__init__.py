"""Channel kinds, one module each (all with the interface in `base.py`); the table of
kinds (`ipcviz.scenario.kinds.CHANNELS`) names the module and class of each, and
`ipcviz.scenario.kinds.channel_class` imports it. This package imports nothing of the
scenario format: it sits below it."""
