"""Runtime settings of the running core agent: read, change and status over IPC."""
