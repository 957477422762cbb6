"""The config stream consumer: a remote agent's streamed, always-readable view of the core's config."""
