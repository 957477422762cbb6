"""Implementation of the diagnostics component: :mod:`.service` (status, flare, gRPC),
:mod:`.flare` (the files and their masking), :mod:`.bounds` (the flare within one message); recent
log lines come from :class:`pkg.util.recent_logs.RecentLogs`."""

from __future__ import annotations

from dataclasses import dataclass

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.diagnostics.def_ import Component
from comp.core.diagnostics.impl.service import Diagnostics, new_grpc_service
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings import def_ as settings_def
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Hook, Lifecycle
from pkg.util.recent_logs import RecentLogs

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``telemetry``: whose ``/metrics`` the flare reads (when it serves one)."""

    lifecycle: Lifecycle
    config: config_def.Component
    settings: settings_def.Component
    registry: registry_def.Component
    queries: registry_def.Queries
    telemetry: telemetry_def.Component


@dataclass(frozen=True)
class Provides:
    comp: Component
    grpc_service: GrpcService


def new_component(requires: Requires) -> Provides:
    """Build the component; its recent-logs buffer follows the root logger while started."""
    logs = RecentLogs()
    requires.lifecycle.append(Hook("recent logs", on_start=logs.start, on_stop=logs.stop))
    diagnostics = Diagnostics(
        config=requires.config,
        settings=requires.settings,
        registry=requires.registry,
        queries=requires.queries,
        logs=logs,
        metrics_url=lambda: requires.telemetry.url,
    )
    return Provides(comp=diagnostics, grpc_service=new_grpc_service(diagnostics))
