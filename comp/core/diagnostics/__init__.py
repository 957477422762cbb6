"""Status of the remote agents and flares of the whole host, served to ``core-agent status|flare``."""
