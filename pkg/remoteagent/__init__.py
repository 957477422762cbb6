"""Plain helpers shared by the core agent and remote agents for status, flares, telemetry and events:
service names, endpoint URIs, name sanitizing and Prometheus text merging (no DI, no grpc server)."""
