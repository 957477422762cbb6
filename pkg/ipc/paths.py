"""Where the IPC secrets live when the configuration does not say."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from pkg.ipc.errors import IpcError

__all__ = ["AUTH_TOKEN_FILE_NAME", "IPC_CERT_FILE_NAME", "IpcFilePaths", "resolve_ipc_file_paths"]

AUTH_TOKEN_FILE_NAME = "auth_token"
IPC_CERT_FILE_NAME = "ipc_cert.pem"

PathLike = str | os.PathLike[str]


class IpcFilePaths(NamedTuple):
    """The auth token file and the IPC certificate file."""

    auth_token: Path
    ipc_cert: Path


def resolve_ipc_file_paths(
    auth_token_file_path: PathLike | None = None,
    ipc_cert_file_path: PathLike | None = None,
    *,
    config_file: PathLike | None = None,
    state_dir: PathLike | None = None,
) -> IpcFilePaths:
    """Resolve both paths as the core agent does (empty strings count as unset).

    - auth token: ``auth_token_file_path``, else ``auth_token`` beside ``config_file``, else in
      ``state_dir``;
    - certificate: ``ipc_cert_file_path``, else ``ipc_cert.pem`` beside the auth token.

    ``~`` is expanded. Raises IpcError when none of the three locates the auth token.
    """
    token_path = _given(auth_token_file_path)
    if token_path is None:
        if (cfg := _given(config_file)) is not None:
            token_path = cfg.parent / AUTH_TOKEN_FILE_NAME
        elif (state := _given(state_dir)) is not None:
            token_path = state / AUTH_TOKEN_FILE_NAME
        else:
            raise IpcError(
                "cannot locate the auth token file: set auth_token_file_path, "
                "or use a config file (the token lives beside it) or a state directory"
            )
    cert_path = _given(ipc_cert_file_path) or token_path.parent / IPC_CERT_FILE_NAME
    return IpcFilePaths(auth_token=token_path, ipc_cert=cert_path)


def _given(value: PathLike | None) -> Path | None:
    if value is None or not os.fspath(value).strip():
        return None
    return Path(os.fspath(value).strip()).expanduser()
