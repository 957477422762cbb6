"""The remote agent registry: sessions of the remote agents that may stream config."""
