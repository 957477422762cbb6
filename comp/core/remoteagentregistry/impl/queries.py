"""Fan-out of the core's queries (status, flare files, telemetry) to the registered remote agents.

Each call dials every agent that advertises the service, all at once, under one deadline read from
``remote_agent.registry.query_timeout`` at each call. A fresh channel per agent and call keeps a dead
agent's connection state from leaking into the next call. After a successful call the agent's
``session_id`` response header must hold exactly its registered session, else the answer is
discarded and the agent marked unhealthy (evicted at the registry's next check). An answer larger
than :data:`REPLY_SIZE_FACTOR` times ``agent_ipc.grpc_max_message_size`` (16 MiB at the default) is
refused by the channel, and the query fails naming the agent and the limit.

Telemetry (namespace ``remote_agent_registry``), each labelled ``name`` (the sanitized display name)
and ``action`` (``status``, ``flare``, ``telemetry``): ``action_duration_seconds``, ``action_error``
(also labelled ``error``: a gRPC status name or ``SESSION_ID_MISMATCH``) and ``action_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from opentelemetry.metrics import Meter

from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from comp.core.remoteagentregistry.def_ import Component, QueryResult, RemoteAgent, StatusDetails
from comp.core.telemetry.def_ import SECONDS_BUCKETS
from pkg.config import keys
from pkg.grpcutil import SESSION_ID_METADATA_KEY, describe_rpc_error
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.remoteagent.flare.v1 import flare_pb2
from pkg.proto.gen.datadog.remoteagent.status.v1 import status_pb2
from pkg.proto.gen.datadog.remoteagent.telemetry.v1 import telemetry_pb2
from pkg.remoteagent.endpoint import EndpointError, grpc_target
from pkg.remoteagent.names import sanitize_name
from pkg.remoteagent.services import (
    FLARE_METHOD,
    FLARE_SERVICE,
    STATUS_METHOD,
    STATUS_SERVICE,
    TELEMETRY_METHOD,
    TELEMETRY_SERVICE,
)

__all__ = [
    "REPLY_SIZE_FACTOR",
    "SESSION_ID_MISMATCH",
    "RemoteAgentQueries",
]

_log = logging.getLogger(__name__)

SESSION_ID_MISMATCH = "SESSION_ID_MISMATCH"
REPLY_SIZE_FACTOR = 4
_MAX_GRPC_LENGTH = 2**31 - 1
_NAMESPACE = "remote_agent_registry"

_R = TypeVar("_R")
_V = TypeVar("_V")


@dataclass(frozen=True)
class _Rpc(Generic[_R, _V]):
    action: str
    service: str
    method: str
    request: bytes
    parse: Callable[[bytes], _R]
    convert: Callable[[_R], _V]


def _status(response: status_pb2.GetStatusDetailsResponse) -> StatusDetails:
    return StatusDetails(
        main=dict(response.main_section.fields),
        named={name: dict(section.fields) for name, section in response.named_sections.items()},
    )


def _prom_text(response: telemetry_pb2.GetTelemetryResponse) -> str:
    return response.prom_text if response.WhichOneof("payload") == "prom_text" else ""


_STATUS: _Rpc[status_pb2.GetStatusDetailsResponse, StatusDetails] = _Rpc(
    "status",
    STATUS_SERVICE,
    STATUS_METHOD,
    status_pb2.GetStatusDetailsRequest().SerializeToString(),
    status_pb2.GetStatusDetailsResponse.FromString,
    _status,
)
_FLARE: _Rpc[flare_pb2.GetFlareFilesResponse, dict[str, bytes]] = _Rpc(
    "flare",
    FLARE_SERVICE,
    FLARE_METHOD,
    flare_pb2.GetFlareFilesRequest().SerializeToString(),
    flare_pb2.GetFlareFilesResponse.FromString,
    lambda response: dict(response.files),
)
_TELEMETRY: _Rpc[telemetry_pb2.GetTelemetryResponse, str] = _Rpc(
    "telemetry",
    TELEMETRY_SERVICE,
    TELEMETRY_METHOD,
    telemetry_pb2.GetTelemetryRequest().SerializeToString(),
    telemetry_pb2.GetTelemetryResponse.FromString,
    _prom_text,
)


class _Metrics:
    def __init__(self, meter: Meter) -> None:
        p = _NAMESPACE
        # Same names and descriptions as the registry's own instruments: the SDK returns those.
        self.duration = meter.create_histogram(
            f"{p}.action_duration_seconds",
            unit="s",
            description="Duration of registry actions, by action",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.error = meter.create_counter(f"{p}.action_error", description="Failed actions, by action")
        self.timeout = meter.create_counter(
            f"{p}.action_timeout", description="Queries to remote agents that ran out of time, by action"
        )


class RemoteAgentQueries:
    """Implements the registry's ``Queries``. ``ipc`` gives the client certificate and token (None:
    every query fails, saying so)."""

    def __init__(
        self,
        registry: Component,
        config: config_def.Component,
        meter: Meter,
        ipc: ipc_def.Component | None,
    ) -> None:
        self._registry = registry
        self._config = config
        self._ipc = ipc
        self._metrics = _Metrics(meter)

    def max_reply_bytes(self) -> int:
        """The largest answer accepted from one agent: :data:`REPLY_SIZE_FACTOR` times the message size."""
        return min(REPLY_SIZE_FACTOR * self._config.get_int(keys.GRPC_MAX_MESSAGE_SIZE), _MAX_GRPC_LENGTH)

    def timeout(self) -> float:
        """The deadline of one fan-out, in seconds (declared positive)."""
        return self._config.get_duration(keys.REGISTRY_QUERY_TIMEOUT).total_seconds()

    async def status(self) -> list[QueryResult[StatusDetails]]:
        return await self._fan_out(_STATUS)

    async def flare_files(self) -> list[QueryResult[dict[str, bytes]]]:
        return await self._fan_out(_FLARE)

    async def telemetry(self) -> list[QueryResult[str]]:
        return await self._fan_out(_TELEMETRY)

    async def _fan_out(self, rpc: _Rpc[_R, _V]) -> list[QueryResult[_V]]:
        agents = [a for a in self._registry.list() if rpc.service in a.services]
        if not agents:
            return []
        timeout = self.timeout()
        deadline = asyncio.get_running_loop().time() + timeout
        return list(await asyncio.gather(*(self._query(agent, rpc, deadline, timeout) for agent in agents)))

    async def _query(
        self, agent: RemoteAgent, rpc: _Rpc[_R, _V], deadline: float, budget: float
    ) -> QueryResult[_V]:
        name = sanitize_name(agent.display_name)
        labels = {"name": name, "action": rpc.action}
        started = time.perf_counter()
        try:
            remaining = deadline - asyncio.get_running_loop().time()
            # The grpc deadline ends the call; wait_for also bounds what precedes it (channel setup).
            value = await asyncio.wait_for(self._call(agent, rpc, max(remaining, 0.001)), remaining + 0.25)
            return QueryResult(agent, value)
        except (TimeoutError, _DeadlineError):
            self._metrics.timeout.add(1, labels)
            return QueryResult(agent, None, f"no answer within {budget:g}s")
        except _QueryError as exc:
            self._metrics.error.add(1, {**labels, "error": exc.code})
            return QueryResult(agent, None, str(exc))
        finally:
            self._metrics.duration.record(time.perf_counter() - started, labels)

    async def _call(self, agent: RemoteAgent, rpc: _Rpc[_R, _V], seconds: float) -> _V:
        try:
            target = grpc_target(agent.api_endpoint_uri)
        except EndpointError as exc:  # refused at registration: only a registry bypassing it gets here
            raise _QueryError("INVALID_ENDPOINT", str(exc)) from None
        if target is None:
            raise _QueryError("NO_ENDPOINT", "registered without an api_endpoint_uri")
        if self._ipc is None:
            raise _QueryError("NO_CREDENTIALS", "the core agent has no IPC credentials to dial it")
        max_reply = self.max_reply_bytes()
        options = [
            ("grpc.max_receive_message_length", max_reply),
            ("grpc.enable_retries", 0),
        ]
        channel = secure_channel(target, self._ipc.client_credentials(), options)
        try:
            method = channel.unary_unary(
                f"/{rpc.service}/{rpc.method}",
                request_serializer=_identity,
                response_deserializer=rpc.parse,
            )
            call = method(rpc.request, metadata=self._ipc.auth_metadata(), timeout=seconds)
            try:
                response = await call
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise _DeadlineError() from None
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:  # the reply limit, most likely
                    raise _QueryError(
                        exc.code().name,
                        f"remote agent {agent.display_name!r} at {agent.api_endpoint_uri}: {rpc.action} "
                        f"failed with RESOURCE_EXHAUSTED ({exc.details()}); the core accepts answers of at "
                        f"most {max_reply} bytes ({REPLY_SIZE_FACTOR} x {keys.GRPC_MAX_MESSAGE_SIZE})",
                    ) from None
                raise _QueryError(
                    exc.code().name, describe_rpc_error(agent.api_endpoint_uri, exc, peer="remote agent")
                ) from None
            self._check_session(agent, await call.initial_metadata())
            return rpc.convert(response)
        finally:
            await channel.close()

    def _check_session(self, agent: RemoteAgent, metadata: Any) -> None:
        values = [v for k, v in (metadata or ()) if k == SESSION_ID_METADATA_KEY]
        if len(values) == 1 and values[0] == agent.session_id:
            return
        if not values:
            found = "no session_id header"
        elif len(values) > 1:
            found = f"{len(values)} session_id headers"
        else:
            found = f"session_id {str(values[0])[:64]!r}"
        reason = f"answered with {found}, expected its registered session {agent.session_id}"
        self._registry.mark_unhealthy(agent.session_id, f"{agent.display_name!r} {reason}")
        raise _QueryError(SESSION_ID_MISMATCH, reason)


def _identity(data: bytes) -> bytes:
    return data


class _DeadlineError(Exception):
    pass


class _QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
