"""The IPC secrets of this host: paths resolved when built, files created or loaded at start."""

from __future__ import annotations

import logging

import grpc

from comp.core.ipc.def_ import IpcPaths
from pkg.ipc import (
    IpcCertificate,
    auth_metadata,
    client_credentials,
    create_or_load_auth_token,
    create_or_load_ipc_certificate,
    server_credentials,
    tokens_match,
)

__all__ = ["IpcSecrets"]

_log = logging.getLogger(__name__)


class IpcSecrets:
    """Implements the IPC ``Component``. Without ``token`` and ``cert``, :meth:`load` (the start
    hook) creates or loads them; reading them before that raises RuntimeError."""

    def __init__(self, paths: IpcPaths, token: str | None = None, cert: IpcCertificate | None = None) -> None:
        self._paths = paths
        self._token = token
        self._cert = cert

    def load(self) -> None:
        """Create both files (mode 0600) or load them. Raises pkg.ipc.IpcError naming the file and the fix."""
        if self._token is not None and self._cert is not None:
            return
        self._token = create_or_load_auth_token(self._paths.auth_token)
        self._cert = create_or_load_ipc_certificate(self._paths.ipc_cert)
        _log.debug("IPC secrets: auth token %s, certificate %s", self._paths.auth_token, self._paths.ipc_cert)

    async def start(self) -> None:
        self.load()

    def _loaded(self) -> tuple[str, IpcCertificate]:
        if self._token is None or self._cert is None:
            raise RuntimeError("the IPC secrets are not loaded yet: the lifecycle has not started")
        return self._token, self._cert

    @property
    def paths(self) -> IpcPaths:
        return self._paths

    @property
    def token(self) -> str:
        return self._loaded()[0]

    @property
    def cert_pem(self) -> bytes:
        return self._loaded()[1].cert_pem

    def auth_metadata(self) -> tuple[tuple[str, str], ...]:
        return auth_metadata(self.token)

    def server_credentials(self) -> grpc.ServerCredentials:
        cert = self._loaded()[1]
        return server_credentials(cert.cert_pem, cert.key_pem)

    def client_credentials(self) -> grpc.ChannelCredentials:
        cert = self._loaded()[1]
        return client_credentials(cert.cert_pem, cert.key_pem)

    def token_matches(self, presented: str) -> bool:
        return tokens_match(presented, self.token)
