"""Implementation of the remote agent component: :mod:`.server` (the agent's gRPC server) and
:mod:`.agent` (registration, refresh, session)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagent.def_ import Component, Params
from comp.core.remoteagent.impl.agent import RegisteredAgent
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``services``: the contributed providers (status, flare, telemetry...), as for the core's server."""

    lifecycle: Lifecycle
    params: Params
    services: Sequence[GrpcService] = ()


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Build the remote agent; it serves and registers while the lifecycle runs."""
    agent = RegisteredAgent(requires.params, requires.services)
    requires.lifecycle.append(Hook("remote agent", on_start=agent.start, on_stop=agent.stop))
    return Provides(comp=agent)
