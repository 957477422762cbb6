"""mTLS over a real loopback grpc.aio server: who gets through and who is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from pkg.ipc import (
    DEFAULT_MAX_MESSAGE_BYTES,
    IpcCertificate,
    IpcFileMissingError,
    auth_metadata,
    channel_options,
    client_credentials,
    create_or_load_auth_token,
    create_or_load_ipc_certificate,
    generate_ipc_certificate,
    load_client_material,
    message_size_options,
    secure_channel,
    server_credentials,
)

_OVERRIDE = ("grpc.ssl_target_name_override", "localhost")


@pytest.fixture(scope="module")
def cert() -> IpcCertificate:
    return generate_ipc_certificate()


@pytest.fixture
async def port(cert: IpcCertificate) -> AsyncIterator[int]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    bound = server.add_secure_port("127.0.0.1:0", server_credentials(cert.cert_pem, cert.key_pem))
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(None)


async def _check(address: str, credentials: grpc.ChannelCredentials) -> int:
    async with secure_channel(address, credentials) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        return int(reply.status)


async def test_client_with_the_certificate_completes_an_rpc(cert: IpcCertificate, port: int) -> None:
    creds = client_credentials(cert.cert_pem, cert.key_pem)
    assert await _check(f"127.0.0.1:{port}", creds) == health_pb2.HealthCheckResponse.SERVING
    assert await _check(f"localhost:{port}", creds) == health_pb2.HealthCheckResponse.SERVING


async def test_client_without_a_certificate_is_refused(cert: IpcCertificate, port: int) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=cert.cert_pem)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _check(f"127.0.0.1:{port}", creds)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_with_another_certificate_is_refused(port: int) -> None:
    other = generate_ipc_certificate()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _check(f"127.0.0.1:{port}", client_credentials(other.cert_pem, other.key_pem))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_refuses_a_server_with_another_certificate(cert: IpcCertificate, port: int) -> None:
    other = generate_ipc_certificate()
    # Presents the server's own certificate but trusts only another one.
    creds = grpc.ssl_channel_credentials(
        root_certificates=other.cert_pem, private_key=cert.key_pem, certificate_chain=cert.cert_pem
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _check(f"127.0.0.1:{port}", creds)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_material_loaded_from_the_files_the_core_agent_created(tmp_path: Path) -> None:
    token = create_or_load_auth_token(tmp_path / "auth_token")
    cert = create_or_load_ipc_certificate(tmp_path / "ipc_cert.pem")
    material = load_client_material(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")
    assert (material.token, material.cert_pem, material.key_pem) == (token, cert.cert_pem, cert.key_pem)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    own_port = server.add_secure_port("127.0.0.1:0", server_credentials(cert.cert_pem, cert.key_pem))
    await server.start()
    try:
        creds = client_credentials(material.cert_pem, material.key_pem)
        assert await _check(f"127.0.0.1:{own_port}", creds) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(None)


def test_client_material_is_never_created(tmp_path: Path) -> None:
    with pytest.raises(IpcFileMissingError, match="core agent creates it"):
        load_client_material(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")
    create_or_load_auth_token(tmp_path / "auth_token")
    with pytest.raises(IpcFileMissingError, match=r"ipc_cert\.pem"):
        load_client_material(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")
    assert not (tmp_path / "ipc_cert.pem").exists()


def test_client_material_without_validation_does_not_load_cryptography(tmp_path: Path) -> None:
    create_or_load_auth_token(tmp_path / "auth_token")
    cert = create_or_load_ipc_certificate(tmp_path / "ipc_cert.pem")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pkg.ipc import load_client_material\n"
        "assert 'cryptography' not in sys.modules, 'importing pkg.ipc loads cryptography'\n"
        f"material = load_client_material(Path({str(tmp_path / 'auth_token')!r}), "
        f"Path({str(tmp_path / 'ipc_cert.pem')!r}), validate=False)\n"
        "assert 'cryptography' not in sys.modules, 'loading without validation loads cryptography'\n"
        "sys.stdout.buffer.write(material.cert_pem + material.key_pem)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert.file_content()


def test_auth_metadata_is_a_bearer_token() -> None:
    assert auth_metadata("abc") == (("authorization", "Bearer abc"),)


@pytest.mark.parametrize(
    ("address", "overridden"),
    [
        ("localhost:5001", False),
        ("LocalHost:5001", False),
        ("dns:///localhost:5001", False),
        ("127.0.0.1:5001", True),
        ("[::1]:5001", True),
        ("ipv4:127.0.0.1:5001", True),
        ("ipv6:[::1]:5001", True),
        ("agent.example:5001", True),
    ],
)
def test_target_name_is_overridden_unless_dialling_localhost(address: str, overridden: bool) -> None:
    options = channel_options(address, [("grpc.max_receive_message_length", 1)])
    assert options[0] == ("grpc.max_receive_message_length", 1)
    assert (_OVERRIDE in options) is overridden


def test_an_explicit_target_name_override_is_kept() -> None:
    options = channel_options("127.0.0.1:1", [("grpc.ssl_target_name_override", "other")])
    assert [o for o in options if o[0] == "grpc.ssl_target_name_override"] == [
        ("grpc.ssl_target_name_override", "other")
    ]


def test_clients_accept_what_the_core_may_send() -> None:
    assert ("grpc.max_receive_message_length", DEFAULT_MAX_MESSAGE_BYTES) in channel_options("localhost:1")
    raised = channel_options("localhost:1", max_message_bytes=8 * 1024 * 1024)
    assert ("grpc.max_receive_message_length", 8 * 1024 * 1024) in raised
    assert message_size_options(65536) == [
        ("grpc.max_send_message_length", 65536),
        ("grpc.max_receive_message_length", 65536),
    ]
