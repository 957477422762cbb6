"""Implementation of the ``StreamConfigEvents`` handler (see :mod:`.handler`).

Its ``GrpcService`` registers a generic handler for ``datadog.api.v1.AgentSecure`` with only
``StreamConfigEvents``; the server tries each generic handler in turn, so the registry can contribute
the service's other methods separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.configstreamserver.def_ import Component
from comp.core.configstreamserver.impl.handler import ConfigStreamHandler
from comp.core.remoteagentregistry import def_ as registry_def
from pkg.config import keys
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]

SERVICE_NAME = "datadog.api.v1.AgentSecure"
METHOD_NAME = "StreamConfigEvents"


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component
    configstream: configstream_def.Component
    registry: registry_def.Component


@dataclass(frozen=True)
class Provides:
    comp: Component
    grpc_service: GrpcService


def new_component(requires: Requires) -> Provides:
    """Build the handler; it follows evictions between the lifecycle's start and stop."""
    handler = ConfigStreamHandler(
        requires.configstream,
        requires.registry,
        sleep_interval=requires.config.get_duration(keys.CONFIGSTREAM_SLEEP_INTERVAL).total_seconds(),
    )
    requires.lifecycle.append(Hook("config stream server", on_start=handler.start, on_stop=handler.stop))
    return Provides(comp=handler, grpc_service=new_grpc_service(handler))


def new_grpc_service(component: Component) -> GrpcService:
    """The contribution to the gRPC server: ``StreamConfigEvents`` of ``datadog.api.v1.AgentSecure``,
    drained (every stream ended with UNAVAILABLE) before the server stops."""
    generic = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            METHOD_NAME: grpc.unary_stream_rpc_method_handler(
                component.stream_config_events,
                request_deserializer=ConfigStreamRequest.FromString,
                response_serializer=None,  # payloads are serialized ConfigEvent bytes, written as they are
            )
        },
    )
    return GrpcService(
        names=(SERVICE_NAME,),
        register=lambda server: server.add_generic_rpc_handlers([generic]),
        drain=component.drain,
    )
