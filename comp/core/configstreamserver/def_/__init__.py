"""Definition of the ``datadog.api.v1.AgentSecure/StreamConfigEvents`` handler.

A remote agent registered with the remote agent registry (RAR) subscribes with its session id and
receives the config stream: a snapshot, then ordered updates. The handler reaches the gRPC server as
a ``GrpcService`` contribution holding only this method (the registry contributes the others).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import grpc

from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest

__all__ = ["Component", "ConfigStreamContext"]

ConfigStreamContext = grpc.aio.ServicerContext[ConfigStreamRequest, bytes]
"""The servicer context of the stream: responses are already serialized ``ConfigEvent`` bytes."""


@runtime_checkable
class Component(Protocol):
    """Serves ``StreamConfigEvents``; ends a stream when its session is evicted, and every stream at
    shutdown (its ``GrpcService`` hands :meth:`drain` to the gRPC server)."""

    @property
    def active_streams(self) -> int:
        """Streams being served now."""
        ...

    async def stream_config_events(self, request: ConfigStreamRequest, context: ConfigStreamContext) -> None:
        """The RPC: check the session, then write the subscriber's events until it ends."""
        ...

    async def drain(self) -> None:
        """Shutting down: end every stream with ``UNAVAILABLE``, refuse new ones with the same
        status, and return once the handlers of the streams have finished."""
        ...
