"""gRPC credentials and channels for the IPC: mTLS with the shared certificate, bearer-token metadata.

Clients (CLI tools, remote agents) only load the secrets the core agent created::

    material = load_client_material(token_path, cert_path)
    creds = client_credentials(material.cert_pem, material.key_pem)
    async with secure_channel("localhost:5001", creds) as channel:
        stub = RemoteAgentStub(channel)
        await stub.RegisterRemoteAgent(request, metadata=auth_metadata(material.token))
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from pkg.config import keys
from pkg.ipc.auth_token import load_auth_token
from pkg.ipc.certificate import load_ipc_certificate
from pkg.ipc.locate import DEFAULT_MAX_MESSAGE_BYTES

__all__ = [
    "AUTH_METADATA_KEY",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_SIZE_KEY",
    "TLS_SERVER_NAME",
    "ClientMaterial",
    "auth_metadata",
    "channel_options",
    "client_credentials",
    "load_client_material",
    "message_size_options",
    "secure_channel",
    "server_credentials",
]

AUTH_METADATA_KEY = "authorization"
TLS_SERVER_NAME = "localhost"
"""The name checked against the certificate when the dialled host is not ``localhost``."""
MAX_MESSAGE_SIZE_KEY = keys.GRPC_MAX_MESSAGE_SIZE
"""The setting that bounds every IPC gRPC message: what the core sends and receives, what clients accept."""
_TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"
_MAX_RECEIVE = "grpc.max_receive_message_length"
_MAX_SEND = "grpc.max_send_message_length"
_URI_SCHEMES = ("dns:///", "dns:", "ipv4:", "ipv6:")

ChannelOptions = Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class ClientMaterial:
    """What a client needs: the bearer token and the certificate and key it presents."""

    token: str
    cert_pem: bytes
    key_pem: bytes


def load_client_material(token_path: Path, cert_path: Path, *, validate: bool = True) -> ClientMaterial:
    """Load (never create) the token and the certificate file, checking modes and content.

    Raises IpcFileMissingError when the core agent has not created them yet, InsecureFileModeError
    or IpcError otherwise. ``validate=False`` checks the certificate file's structure only and leaves
    the key and the validity dates to the TLS handshake: a command-line client that makes one call
    then starts without loading ``cryptography`` (it can call :func:`load_ipc_certificate` to explain
    a failed handshake).
    """
    token = load_auth_token(Path(token_path))
    cert = load_ipc_certificate(Path(cert_path), validate=validate)
    return ClientMaterial(token=token, cert_pem=cert.cert_pem, key_pem=cert.key_pem)


def server_credentials(cert_pem: bytes, key_pem: bytes) -> grpc.ServerCredentials:
    """Server TLS that presents the certificate and requires a client certificate signed by it."""
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=cert_pem, require_client_auth=True
    )


def client_credentials(cert_pem: bytes, key_pem: bytes) -> grpc.ChannelCredentials:
    """Client TLS that presents the certificate and trusts only a server holding the same one."""
    return grpc.ssl_channel_credentials(
        root_certificates=cert_pem, private_key=key_pem, certificate_chain=cert_pem
    )


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """``(("authorization", "Bearer <token>"),)``, the metadata every authenticated call carries."""
    return ((AUTH_METADATA_KEY, f"Bearer {token}"),)


def message_size_options(max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[tuple[str, int]]:
    """Server options: send and receive messages of at most ``max_bytes``."""
    return [(_MAX_SEND, max_bytes), (_MAX_RECEIVE, max_bytes)]


def channel_options(
    address: str, options: ChannelOptions = (), *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> list[tuple[str, Any]]:
    """``options`` plus ``grpc.ssl_target_name_override=localhost`` unless the host is ``localhost``,
    plus a receive limit of ``max_message_bytes`` (what the core may send) unless ``options`` has one.

    The certificate names ``localhost``, ``127.0.0.1`` and ``::1``. The server is trusted because it
    holds the one pinned certificate, so dialling it by an IP address or another host name checks the
    certificate against ``localhost`` rather than failing. An override already in ``options`` wins.
    """
    result = list(options)
    names = {name for name, _ in result}
    if _MAX_RECEIVE not in names:
        result.append((_MAX_RECEIVE, max_message_bytes))
    if _TARGET_NAME_OVERRIDE not in names and _host_of(address).lower() != TLS_SERVER_NAME:
        result.append((_TARGET_NAME_OVERRIDE, TLS_SERVER_NAME))
    return result


def secure_channel(
    address: str,
    credentials: grpc.ChannelCredentials,
    options: ChannelOptions = (),
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> grpc.aio.Channel:
    """A ``grpc.aio`` secure channel to ``address`` (``host:port``); create it inside the running loop.

    ``max_message_bytes``: the largest message accepted, the core's ``agent_ipc.grpc_max_message_size``
    (pass the configured value when the client reads the core's config).
    """
    options = channel_options(address, options, max_message_bytes=max_message_bytes)
    return grpc.aio.secure_channel(address, credentials, options=options)


def _host_of(address: str) -> str:
    """The host of ``host:port``, ``[v6]:port``, ``dns:///host:port`` or ``ipv4:``/``ipv6:`` targets."""
    target = address
    for scheme in _URI_SCHEMES:
        if target.startswith(scheme):
            target = target[len(scheme) :]
            break
    if target.startswith("["):
        return target[1 : target.find("]")] if "]" in target else target[1:]
    try:
        ipaddress.IPv6Address(target)  # a bare IPv6 address without a port
        return target
    except ValueError:
        pass
    return target.rsplit(":", 1)[0] if ":" in target else target
