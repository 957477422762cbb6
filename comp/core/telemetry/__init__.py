"""The telemetry component: an OpenTelemetry MeterProvider and a Prometheus endpoint."""
