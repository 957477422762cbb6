"""The diagnostics component and its gRPC service ``configstream.remoteagents.v1.RemoteAgents``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.diagnostics.impl.bounds import bound_files, limits_for
from comp.core.diagnostics.impl.flare import (
    CORE_DIR,
    known_secrets,
    masker,
    remote_agent_files,
    scrub_section,
    settings_yaml,
    status_files,
)
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings import def_ as settings_def
from pkg.config import keys
from pkg.proto.gen.configstream.remoteagents.v1 import remoteagents_pb2 as pb
from pkg.remoteagent.promtext import render
from pkg.remoteagent.services import STATUS_SERVICE
from pkg.scrub import scrub_text
from pkg.util.recent_logs import RecentLogs

__all__ = ["SERVICE_NAME", "Diagnostics", "new_grpc_service", "status_to_proto"]

_log = logging.getLogger(__name__)

SERVICE_NAME = "configstream.remoteagents.v1.RemoteAgents"


class Diagnostics:
    """Implements the diagnostics ``Component``. ``metrics_url`` gives the core's own ``/metrics``
    (None when its telemetry is off: the flare then holds the remote agents' metrics only)."""

    def __init__(
        self,
        *,
        config: config_def.Component,
        settings: settings_def.Component,
        registry: registry_def.Component,
        queries: registry_def.Queries,
        logs: RecentLogs,
        metrics_url: Callable[[], str | None],
    ) -> None:
        self._config = config
        self._settings = settings
        self._registry = registry
        self._queries = queries
        self._logs = logs
        self._metrics_url = metrics_url

    async def remote_agents_status(self) -> list[dict[str, Any]]:
        results = {r.agent.session_id: r for r in await self._queries.status()}
        known = known_secrets(self._config, self._settings)
        agents = []
        for agent in sorted(self._registry.list(), key=lambda a: (a.display_name, a.session_id)):
            entry: dict[str, Any] = {
                "display_name": agent.display_name,
                "flavor": agent.flavor,
                "pid": agent.pid,
                "session_id": agent.session_id,
                "api_endpoint_uri": agent.api_endpoint_uri,
                "main_section": {},
                "named_sections": {},
                "error": None,
            }
            result = results.get(agent.session_id)
            if STATUS_SERVICE not in agent.services:
                entry["error"] = "does not provide a status (no StatusProvider service advertised)"
            elif result is None:
                entry["error"] = "registered during the query"
            elif result.response is None:
                entry["error"] = None if result.error is None else scrub_text(result.error, known)
            else:
                entry["main_section"] = scrub_section(result.response.main, known)
                entry["named_sections"] = {
                    scrub_text(name, known): scrub_section(fields, known)
                    for name, fields in result.response.named.items()
                }
            agents.append(entry)
        return agents

    async def flare_files(self) -> dict[str, bytes]:
        remote_status, remote_files, metrics = await asyncio.gather(
            self.remote_agents_status(), self._queries.flare_files(), self._metrics_text()
        )
        core_status = dataclasses.asdict(self._settings.status())
        files = [
            *(
                (f"{CORE_DIR}/{name}", content)
                for name, content in status_files(core_status, remote_status).items()
            ),
            (f"{CORE_DIR}/config.yaml", settings_yaml(self._settings)),
            (f"{CORE_DIR}/agent.log", self._logs.text().encode()),
            (f"{CORE_DIR}/metrics.txt", metrics.encode()),
            (f"{CORE_DIR}/remote_agents.json", self._registry_view()),
            *remote_agent_files(remote_files).items(),
        ]
        mask = masker(self._config, self._settings)
        limits = limits_for(self._config.get_int(keys.GRPC_MAX_MESSAGE_SIZE))
        return bound_files(((path, mask(content)) for path, content in files), limits)

    def _registry_view(self) -> bytes:
        agents = [dataclasses.asdict(a) for a in self._registry.list()]
        return json.dumps(agents, indent=2, sort_keys=True).encode()

    async def _metrics_text(self) -> str:
        url = self._metrics_url()
        try:
            if url is not None:
                return await asyncio.to_thread(_fetch, url)
            from comp.core.remoteagentregistry.impl.remote_metrics import merge_remote_metrics

            return render((await merge_remote_metrics(self._queries)).families())
        except Exception as exc:  # the flare goes on without metrics, saying why
            _log.warning("flare: cannot read the metrics: %s", exc)
            return f"# metrics unavailable: {exc}\n"


def _fetch(url: str) -> str:
    # The endpoint's scrape waits for the remote agents' metrics: at most the query deadline + 1s.
    with urllib.request.urlopen(url, timeout=30.0) as response:  # the core's own loopback endpoint
        body: bytes = response.read()
    return body.decode("utf-8")


def status_to_proto(agents: list[dict[str, Any]]) -> pb.GetRemoteAgentStatusResponse:
    response = pb.GetRemoteAgentStatusResponse()
    for entry in agents:
        agent = response.agents.add(
            display_name=entry["display_name"],
            flavor=entry["flavor"],
            pid=entry["pid"],
            session_id=entry["session_id"],
            api_endpoint_uri=entry["api_endpoint_uri"],
            error=entry["error"] or "",
            provides_status=entry["error"] is None or "no StatusProvider" not in entry["error"],
        )
        agent.status.main_section.fields.update(entry["main_section"])
        for name, fields in entry["named_sections"].items():
            agent.status.named_sections[name].fields.update(fields)
    return response


def new_grpc_service(diagnostics: Diagnostics) -> GrpcService:
    async def get_status(
        _request: pb.GetRemoteAgentStatusRequest, _context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetRemoteAgentStatusResponse:
        return status_to_proto(await diagnostics.remote_agents_status())

    async def create_flare(
        _request: pb.CreateFlareRequest, _context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateFlareResponse:
        return pb.CreateFlareResponse(files=await diagnostics.flare_files())

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "GetRemoteAgentStatus": grpc.unary_unary_rpc_method_handler(
            get_status,
            request_deserializer=pb.GetRemoteAgentStatusRequest.FromString,
            response_serializer=pb.GetRemoteAgentStatusResponse.SerializeToString,
        ),
        "CreateFlare": grpc.unary_unary_rpc_method_handler(
            create_flare,
            request_deserializer=pb.CreateFlareRequest.FromString,
            response_serializer=pb.CreateFlareResponse.SerializeToString,
        ),
    }

    def add_to(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, methods),))

    return GrpcService(names=(SERVICE_NAME,), register=add_to)
