"""The ``StreamConfigEvents`` handler: the config stream over gRPC for registered remote agents."""
