"""The remote-agent side of the registry: the agent's own server, its registration and its session."""
