"""The project's demo: a core agent streams its configuration to a remote agent (``python -m demo``)."""
