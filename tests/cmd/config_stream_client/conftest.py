"""Fixtures of the config-stream-client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from pkg.ipc import generate_auth_token, generate_ipc_certificate, server_credentials
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2
from tests.cmd.config_stream_client.stream_client_fakes import Event, FakeCore


@pytest.fixture
async def fake_core(tmp_path: Path) -> AsyncIterator[FakeCore]:
    cert = generate_ipc_certificate()
    token = generate_auth_token()
    token_file = tmp_path / "auth_token"
    cert_file = tmp_path / "ipc_cert.pem"
    for path, data in ((token_file, token.encode()), (cert_file, cert.file_content())):
        path.write_bytes(data)
        path.chmod(0o600)
    core = FakeCore(token=token, token_file=token_file, cert_file=cert_file)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "datadog.remoteagent.v1.RemoteAgent",
                {
                    "RegisterRemoteAgent": grpc.unary_unary_rpc_method_handler(
                        core.register,
                        request_deserializer=remoteagent_pb2.RegisterRemoteAgentRequest.FromString,
                        response_serializer=remoteagent_pb2.RegisterRemoteAgentResponse.SerializeToString,
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "datadog.api.v1.AgentSecure",
                {
                    "StreamConfigEvents": grpc.unary_stream_rpc_method_handler(
                        core.stream,
                        request_deserializer=configstream_pb2.ConfigStreamRequest.FromString,
                        response_serializer=Event.SerializeToString,
                    )
                },
            ),
        ]
    )
    port = server.add_secure_port("127.0.0.1:0", server_credentials(cert.cert_pem, cert.key_pem))
    core.address = f"127.0.0.1:{port}"
    await server.start()
    try:
        yield core
    finally:
        await server.stop(grace=None)
