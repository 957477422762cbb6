"""A test double of the IPC component: a fixed token and a freshly generated certificate."""

from __future__ import annotations

from pathlib import Path

import grpc

from comp.core.ipc.def_ import IpcPaths
from pkg.ipc import (
    AUTH_TOKEN_FILE_NAME,
    IPC_CERT_FILE_NAME,
    auth_metadata,
    client_credentials,
    generate_ipc_certificate,
    publish_new_file,
    server_credentials,
    tokens_match,
)

__all__ = ["MOCK_TOKEN", "MockIpc", "new_mock"]

MOCK_TOKEN = "0123456789abcdef" * 4


class MockIpc:
    """Implements the IPC ``Component`` with real credentials (a new certificate per instance).

    Without ``directory`` nothing touches the disk and :attr:`paths` name files that do not exist;
    with it, both files are written there (mode 0600) for code that loads them by path.
    """

    def __init__(self, directory: Path | None = None, token: str = MOCK_TOKEN) -> None:
        self._token = token
        self._cert = generate_ipc_certificate()
        base = directory if directory is not None else Path("/nonexistent/ipc-mock")
        self._paths = IpcPaths(auth_token=base / AUTH_TOKEN_FILE_NAME, ipc_cert=base / IPC_CERT_FILE_NAME)
        if directory is not None:
            for path, content in (
                (self._paths.auth_token, token.encode("ascii")),
                (self._paths.ipc_cert, self._cert.file_content()),
            ):
                if not publish_new_file(path, content):
                    raise FileExistsError(f"{path} already exists; give the mock an empty directory")

    @property
    def paths(self) -> IpcPaths:
        return self._paths

    @property
    def token(self) -> str:
        return self._token

    @property
    def cert_pem(self) -> bytes:
        return self._cert.cert_pem

    @property
    def key_pem(self) -> bytes:
        """The private key (not part of the interface; for tests that build their own credentials)."""
        return self._cert.key_pem

    def auth_metadata(self) -> tuple[tuple[str, str], ...]:
        return auth_metadata(self._token)

    def server_credentials(self) -> grpc.ServerCredentials:
        return server_credentials(self._cert.cert_pem, self._cert.key_pem)

    def client_credentials(self) -> grpc.ChannelCredentials:
        return client_credentials(self._cert.cert_pem, self._cert.key_pem)

    def token_matches(self, presented: str) -> bool:
        return tokens_match(presented, self._token)


def new_mock(directory: Path | None = None, token: str = MOCK_TOKEN) -> MockIpc:
    """A :class:`MockIpc`; see its docstring for ``directory``."""
    return MockIpc(directory, token)
