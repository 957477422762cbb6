"""The floor: the least a Python grpc.aio server can do to serve the same protocol.

``python -m bench.floor_server --port P --token-file F --cert-file F [--config-file datadog.yaml]``

Same mTLS and bearer token as the core agent, same RPCs the benchmark uses:

- ``RemoteAgent/RegisterRemoteAgent`` and ``RefreshRemoteAgent``: a set of session ids;
- ``AgentSecure/StreamConfigEvents``: checks the session id, sends one snapshot (serialized once per
  sequence id, shared), then forwards pre-serialized ``ConfigEvent`` bytes (identity serializer):
  one message per subscriber per update, from an unbounded per-subscriber queue;
- ``Settings/SetSettings``: values kept as text; each key becomes one update with the next sequence
  id, serialized once and queued to every subscriber.

It prints ``{"event": "serving", "port": N, "pid": P}`` on stdout once it listens, and stops on
SIGTERM/SIGINT. Nothing else: no history, no lag handling, no telemetry, no logging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import yaml

from pkg.ipc import load_client_material, server_credentials, tokens_match
from pkg.proto.gen.configstream.settings.v1 import settings_pb2
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2
from pkg.protoconv.values import to_value

__all__ = ["FloorState", "flatten", "main"]

_ORIGIN = "datadog.yaml"
_BEARER = "Bearer "
Context = grpc.aio.ServicerContext[Any, Any]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf settings of a nested mapping as dotted keys (lists are leaves)."""
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{str(name).lower()}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


class FloorState:
    """Settings, the sequence id, the cached snapshot and the subscribers' queues."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings: dict[str, configstream_pb2.ConfigSetting] = {
            key: configstream_pb2.ConfigSetting(source="file", key=key, value=to_value(value))
            for key, value in settings.items()
        }
        self.sequence_id = 0
        self.snapshot_builds = 0
        self._snapshot: tuple[int, bytes] | None = None
        self.queues: set[asyncio.Queue[bytes]] = set()

    def snapshot(self) -> bytes:
        """The snapshot at the current sequence id, serialized once per sequence id."""
        if self._snapshot is None or self._snapshot[0] != self.sequence_id:
            snap = configstream_pb2.ConfigSnapshot(
                origin=_ORIGIN, sequence_id=self.sequence_id, settings=self.settings.values()
            )
            self._snapshot = (
                self.sequence_id,
                configstream_pb2.ConfigEvent(snapshot=snap).SerializeToString(),
            )
            self.snapshot_builds += 1
        return self._snapshot[1]

    def set_text(self, values: Mapping[str, str]) -> int:
        for key, text in values.items():
            setting = configstream_pb2.ConfigSetting(source="agent-runtime", key=key)
            setting.value.string_value = text
            self.settings[key] = setting
            self.sequence_id += 1
            update = configstream_pb2.ConfigUpdate(
                origin=_ORIGIN, sequence_id=self.sequence_id, setting=setting
            )
            payload = configstream_pb2.ConfigEvent(update=update).SerializeToString()
            for queue in self.queues:
                queue.put_nowait(payload)
        return self.sequence_id


class FloorServer:
    """The RPC handlers over a :class:`FloorState`."""

    def __init__(self, state: FloorState, token: str) -> None:
        self.state = state
        self._token = token
        self._sessions: set[str] = set()

    async def _authenticate(self, context: Context) -> None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str) and value.startswith(_BEARER):
                if tokens_match(value[len(_BEARER) :], self._token):
                    return
                break
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid auth token")

    async def register(
        self, request: remoteagent_pb2.RegisterRemoteAgentRequest, context: Context
    ) -> remoteagent_pb2.RegisterRemoteAgentResponse:
        await self._authenticate(context)
        session_id = str(uuid.uuid4())
        self._sessions.add(session_id)
        return remoteagent_pb2.RegisterRemoteAgentResponse(
            session_id=session_id, recommended_refresh_interval_secs=10
        )

    async def refresh(
        self, request: remoteagent_pb2.RefreshRemoteAgentRequest, context: Context
    ) -> remoteagent_pb2.RefreshRemoteAgentResponse:
        await self._authenticate(context)
        if request.session_id not in self._sessions:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no remote agent found with session ID")
        return remoteagent_pb2.RefreshRemoteAgentResponse()

    async def stream(self, request: bytes, context: Context) -> AsyncIterator[bytes]:
        await self._authenticate(context)
        session_id = str(dict(context.invocation_metadata() or ()).get("session_id", ""))
        if session_id not in self._sessions:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{session_id}' not found")
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.state.queues.add(queue)  # same step as the snapshot: nothing can slip in between
        try:
            yield self.state.snapshot()
            while True:
                yield await queue.get()
        finally:
            self.state.queues.discard(queue)

    async def set_settings(
        self, request: settings_pb2.SetSettingsRequest, context: Context
    ) -> settings_pb2.SetSettingsResponse:
        await self._authenticate(context)
        return settings_pb2.SetSettingsResponse(sequence_id=self.state.set_text(request.values))

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        return [
            grpc.method_handlers_generic_handler(
                "datadog.remoteagent.v1.RemoteAgent",
                {
                    "RegisterRemoteAgent": grpc.unary_unary_rpc_method_handler(
                        self.register,
                        request_deserializer=remoteagent_pb2.RegisterRemoteAgentRequest.FromString,
                        response_serializer=remoteagent_pb2.RegisterRemoteAgentResponse.SerializeToString,
                    ),
                    "RefreshRemoteAgent": grpc.unary_unary_rpc_method_handler(
                        self.refresh,
                        request_deserializer=remoteagent_pb2.RefreshRemoteAgentRequest.FromString,
                        response_serializer=remoteagent_pb2.RefreshRemoteAgentResponse.SerializeToString,
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                "datadog.api.v1.AgentSecure",
                # Request left as bytes (the name is not needed); responses are already bytes.
                {"StreamConfigEvents": grpc.unary_stream_rpc_method_handler(self.stream)},
            ),
            grpc.method_handlers_generic_handler(
                "configstream.settings.v1.Settings",
                {
                    "SetSettings": grpc.unary_unary_rpc_method_handler(
                        self.set_settings,
                        request_deserializer=settings_pb2.SetSettingsRequest.FromString,
                        response_serializer=settings_pb2.SetSettingsResponse.SerializeToString,
                    )
                },
            ),
        ]


def load_settings(config_file: Path | None) -> dict[str, Any]:
    """The flattened settings of a YAML file (empty without one)."""
    if config_file is None:
        return {}
    data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    return flatten(data)


async def serve(port: int, token_file: Path, cert_file: Path, config_file: Path | None) -> None:
    material = load_client_material(token_file, cert_file)
    floor = FloorServer(FloorState(load_settings(config_file)), material.token)
    # The core agent's TLS frame size (comp/api/grpcserver/impl/server.py), so that the comparison is fair.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.tsi.max_frame_size", 8192)])
    server.add_generic_rpc_handlers(floor.handlers())
    bound = server.add_secure_port(
        f"127.0.0.1:{port}", server_credentials(material.cert_pem, material.key_pem)
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(json.dumps({"event": "serving", "port": bound, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    await stop.wait()
    await server.stop(grace=None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--cert-file", type=Path, required=True)
    parser.add_argument("--config-file", type=Path)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.token_file, args.cert_file, args.config_file))


if __name__ == "__main__":
    main()
