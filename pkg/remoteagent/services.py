"""Full names of the services a remote agent may serve (its answers name its session with
:data:`pkg.grpcutil.SESSION_ID_METADATA_KEY`)."""

from __future__ import annotations

__all__ = [
    "FLARE_METHOD",
    "FLARE_SERVICE",
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
