"""The remote agent registry component and its gRPC service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.remoteagentregistry.def_ import Component
from comp.core.remoteagentregistry.impl.grpc_service import new_grpc_service
from comp.core.remoteagentregistry.impl.registry import TELEMETRY_NAMESPACE, RemoteAgentRegistry
from comp.core.remoteagentregistry.impl.validation import MAX_AGENTS
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "RemoteAgentRegistry", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``clock``, ``check_interval`` (seconds between eviction checks) and ``max_agents`` (registered
    at once) are for tests."""

    lifecycle: Lifecycle
    config: config_def.Component
    telemetry: telemetry_def.Component
    clock: Callable[[], float] = field(default=time.monotonic)
    check_interval: float = 1.0
    max_agents: int = MAX_AGENTS


@dataclass(frozen=True)
class Provides:
    comp: Component
    grpc_service: GrpcService


def new_component(requires: Requires) -> Provides:
    """Build the registry; its start hook launches the idle eviction, its stop hook ends it."""
    registry = RemoteAgentRegistry(
        requires.config,
        requires.telemetry.meter(TELEMETRY_NAMESPACE),
        clock=requires.clock,
        check_interval=requires.check_interval,
        max_agents=requires.max_agents,
    )
    requires.lifecycle.append(Hook("remote agent registry", on_start=registry.start, on_stop=registry.stop))
    return Provides(comp=registry, grpc_service=new_grpc_service(registry))
