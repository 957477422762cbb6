"""IPC secrets shared by the core agent and its local clients (no DI, usable from any process).

The core agent creates the auth token and the certificate file at its first start
(:func:`create_or_load_auth_token`, :func:`create_or_load_ipc_certificate`); clients find them and the
agent's address with :func:`locate_core_agent`, only load them (:func:`load_client_material`) and dial
the core agent with :func:`client_credentials`, :func:`secure_channel` and :func:`auth_metadata`.

Importing this package does not load ``cryptography``: only creating or fully validating a
certificate does, so a command-line client that loads with ``validate=False`` starts without it.
"""

from __future__ import annotations

from pkg.ipc.auth_token import (
    AUTH_TOKEN_BYTES,
    MIN_AUTH_TOKEN_LENGTH,
    create_or_load_auth_token,
    generate_auth_token,
    load_auth_token,
    parse_auth_token,
    tokens_match,
)
from pkg.ipc.certificate import (
    CERT_SAN_DNS_NAMES,
    CERT_SAN_IP_ADDRESSES,
    CERT_VALIDITY,
    IpcCertificate,
    create_or_load_ipc_certificate,
    generate_ipc_certificate,
    load_ipc_certificate,
    parse_ipc_certificate,
    split_ipc_certificate,
)
from pkg.ipc.errors import InsecureFileModeError, IpcError, IpcFileMissingError, LocationError
from pkg.ipc.grpc_security import (
    AUTH_METADATA_KEY,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_MESSAGE_SIZE_KEY,
    TLS_SERVER_NAME,
    ClientMaterial,
    auth_metadata,
    channel_options,
    client_credentials,
    load_client_material,
    message_size_options,
    secure_channel,
    server_credentials,
)
from pkg.ipc.locate import (
    DEFAULT_ADDRESS,
    LOCATION_KEYS,
    AgentLocation,
    default_state_dir,
    format_address,
    locate_core_agent,
    locate_with_settings,
    secrets_state_dir,
)
from pkg.ipc.paths import AUTH_TOKEN_FILE_NAME, IPC_CERT_FILE_NAME, IpcFilePaths, resolve_ipc_file_paths
from pkg.ipc.secret_files import publish_new_file, read_private_file

__all__ = [
    "AUTH_METADATA_KEY",
    "AUTH_TOKEN_BYTES",
    "AUTH_TOKEN_FILE_NAME",
    "CERT_SAN_DNS_NAMES",
    "CERT_SAN_IP_ADDRESSES",
    "CERT_VALIDITY",
    "DEFAULT_ADDRESS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "IPC_CERT_FILE_NAME",
    "LOCATION_KEYS",
    "MAX_MESSAGE_SIZE_KEY",
    "MIN_AUTH_TOKEN_LENGTH",
    "TLS_SERVER_NAME",
    "AgentLocation",
    "ClientMaterial",
    "InsecureFileModeError",
    "IpcCertificate",
    "IpcError",
    "IpcFileMissingError",
    "IpcFilePaths",
    "LocationError",
    "auth_metadata",
    "channel_options",
    "client_credentials",
    "create_or_load_auth_token",
    "create_or_load_ipc_certificate",
    "default_state_dir",
    "format_address",
    "generate_auth_token",
    "generate_ipc_certificate",
    "load_auth_token",
    "load_client_material",
    "load_ipc_certificate",
    "locate_core_agent",
    "locate_with_settings",
    "message_size_options",
    "parse_auth_token",
    "parse_ipc_certificate",
    "publish_new_file",
    "read_private_file",
    "resolve_ipc_file_paths",
    "secrets_state_dir",
    "secure_channel",
    "server_credentials",
    "split_ipc_certificate",
    "tokens_match",
]
