"""gRPC facts shared by the core agent, its clients and remote agents: the session metadata key,
the wording of RPC failures, and the registry's register/refresh client."""

from __future__ import annotations

from pkg.grpcutil.errors import SESSION_LOST_CODES, describe_rpc_error, rpc_code
from pkg.grpcutil.registry import DEFAULT_REFRESH_SECONDS, RegistryClient

__all__ = [
    "DEFAULT_REFRESH_SECONDS",
    "SESSION_ID_METADATA_KEY",
    "SESSION_LOST_CODES",
    "RegistryClient",
    "describe_rpc_error",
    "rpc_code",
]

SESSION_ID_METADATA_KEY = "session_id"
"""Metadata naming a registered remote agent's session: sent with the config stream request, and
on every answer of a remote agent's own services."""
