"""A test double of the IPC component: a fixed token and a freshly generated certificate."""

from __future__ import annotations

from pathlib import Path

from comp.core.ipc.def_ import IpcPaths
from comp.core.ipc.impl.secrets import IpcSecrets
from pkg.ipc import AUTH_TOKEN_FILE_NAME, IPC_CERT_FILE_NAME, generate_ipc_certificate, publish_new_file

__all__ = ["MOCK_TOKEN", "MockIpc", "new_mock"]

MOCK_TOKEN = "0123456789abcdef" * 4


class MockIpc(IpcSecrets):
    """The IPC component with real credentials (a new certificate per instance) and a fixed token.

    Without ``directory`` nothing touches the disk and :attr:`paths` name files that do not exist;
    with it, both files are written there (mode 0600) for code that loads them by path.
    """

    def __init__(self, directory: Path | None = None, token: str = MOCK_TOKEN) -> None:
        cert = generate_ipc_certificate()
        base = directory if directory is not None else Path("/nonexistent/ipc-mock")
        paths = IpcPaths(auth_token=base / AUTH_TOKEN_FILE_NAME, ipc_cert=base / IPC_CERT_FILE_NAME)
        if directory is not None:
            for path, content in (
                (paths.auth_token, token.encode("ascii")),
                (paths.ipc_cert, cert.file_content()),
            ):
                if not publish_new_file(path, content):
                    raise FileExistsError(f"{path} already exists; give the mock an empty directory")
        super().__init__(paths, token, cert)
        self._key_pem = cert.key_pem

    @property
    def key_pem(self) -> bytes:
        """The private key (not part of the interface; for tests that build their own credentials)."""
        return self._key_pem


def new_mock(directory: Path | None = None, token: str = MOCK_TOKEN) -> MockIpc:
    """A :class:`MockIpc`; see its docstring for ``directory``."""
    return MockIpc(directory, token)
