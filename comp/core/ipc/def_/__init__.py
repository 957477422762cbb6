"""Definition of the IPC component: auth token, mTLS certificate and gRPC credentials.

The certificate file holds a PEM certificate followed by its EC P-256 private key. The same
certificate is the server's and the clients': a client presents it and verifies the server with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import grpc

__all__ = ["AUTH_METADATA_KEY", "Component", "IpcPaths", "Params"]

AUTH_METADATA_KEY = "authorization"


@dataclass(frozen=True)
class IpcPaths:
    """Where the token and the certificate live."""

    auth_token: Path
    ipc_cert: Path


@dataclass(frozen=True)
class Params:
    """Inputs of the IPC component.

    ``state_dir``: where the auth token (and so the certificate) lives when the config names neither
    path and there is no config file to sit beside.
    """

    state_dir: Path | None = None


@runtime_checkable
class Component(Protocol):
    """The IPC secrets of this host, created on first start (mode 0600) or loaded, in the start hook:
    before it, only :attr:`paths` answers (the other members raise RuntimeError)."""

    @property
    def paths(self) -> IpcPaths: ...

    @property
    def token(self) -> str:
        """The bearer token (hex)."""
        ...

    @property
    def cert_pem(self) -> bytes:
        """The certificate, PEM."""
        ...

    def auth_metadata(self) -> tuple[tuple[str, str], ...]:
        """``(("authorization", "Bearer <token>"),)`` for client calls."""
        ...

    def server_credentials(self) -> grpc.ServerCredentials:
        """TLS credentials that require and verify a client certificate."""
        ...

    def client_credentials(self) -> grpc.ChannelCredentials:
        """TLS credentials that present the certificate and verify the server against it."""
        ...

    def token_matches(self, presented: str) -> bool:
        """Constant-time comparison of a presented token with ours."""
        ...
