"""Full names of the services a remote agent may serve, and the header that names its session."""

from __future__ import annotations

__all__ = [
    "FLARE_METHOD",
    "FLARE_SERVICE",
    "KNOWN_SERVICES",
    "SESSION_ID_HEADER",
    "STATUS_METHOD",
    "STATUS_SERVICE",
    "TELEMETRY_METHOD",
    "TELEMETRY_SERVICE",
]

STATUS_SERVICE = "datadog.remoteagent.status.v1.StatusProvider"
STATUS_METHOD = "GetStatusDetails"
FLARE_SERVICE = "datadog.remoteagent.flare.v1.FlareProvider"
FLARE_METHOD = "GetFlareFiles"
TELEMETRY_SERVICE = "datadog.remoteagent.telemetry.v1.TelemetryProvider"
TELEMETRY_METHOD = "GetTelemetry"
KNOWN_SERVICES = (STATUS_SERVICE, FLARE_SERVICE, TELEMETRY_SERVICE)

SESSION_ID_HEADER = "session_id"
"""Response header a remote agent puts on every answer: its current session id with the core."""
