"""The IPC component: creates the auth token and the certificate at first start, or loads them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import grpc

from comp.core.config import def_ as config_def
from comp.core.ipc.def_ import Component, IpcPaths, Params
from pkg.config import keys
from pkg.ipc import (
    IpcCertificate,
    auth_metadata,
    client_credentials,
    create_or_load_auth_token,
    create_or_load_ipc_certificate,
    resolve_ipc_file_paths,
    server_credentials,
    tokens_match,
)
from pkg.util.lifecycle import Lifecycle

__all__ = ["IpcSecrets", "Provides", "Requires", "new_component"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requires:
    """``lifecycle`` is unused today: the secrets are created or loaded by the constructor itself."""

    lifecycle: Lifecycle
    config: config_def.Component
    params: Params = field(default_factory=Params)


@dataclass(frozen=True)
class Provides:
    comp: Component


class IpcSecrets:
    """The token and certificate of this host, already on disk; implements the IPC ``Component``."""

    def __init__(self, paths: IpcPaths, token: str, cert: IpcCertificate) -> None:
        self._paths = paths
        self._token = token
        self._cert = cert

    @property
    def paths(self) -> IpcPaths:
        return self._paths

    @property
    def token(self) -> str:
        return self._token

    @property
    def cert_pem(self) -> bytes:
        return self._cert.cert_pem

    def auth_metadata(self) -> tuple[tuple[str, str], ...]:
        return auth_metadata(self._token)

    def server_credentials(self) -> grpc.ServerCredentials:
        return server_credentials(self._cert.cert_pem, self._cert.key_pem)

    def client_credentials(self) -> grpc.ChannelCredentials:
        return client_credentials(self._cert.cert_pem, self._cert.key_pem)

    def token_matches(self, presented: str) -> bool:
        return tokens_match(presented, self._token)


def new_component(requires: Requires) -> Provides:
    """Resolve the paths, then create or load both files; any problem raises (startup aborts).

    Raises pkg.ipc.IpcError (or a subclass) naming the file and the fix.
    """
    config = requires.config
    files = resolve_ipc_file_paths(
        config.get_string(keys.AUTH_TOKEN_FILE_PATH),
        config.get_string(keys.IPC_CERT_FILE_PATH),
        config_file=config.config_file_used(),
        state_dir=requires.params.state_dir,
    )
    token = create_or_load_auth_token(files.auth_token)
    cert = create_or_load_ipc_certificate(files.ipc_cert)
    _log.debug("IPC secrets: auth token %s, certificate %s", files.auth_token, files.ipc_cert)
    return Provides(
        comp=IpcSecrets(IpcPaths(auth_token=files.auth_token, ipc_cert=files.ipc_cert), token, cert)
    )
