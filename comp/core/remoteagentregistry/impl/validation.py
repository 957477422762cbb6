"""Bounds on what a registration may carry: every text comes from outside the core agent.

With ``MAX_AGENTS`` agents of at most these sizes the registry holds a few megabytes at most, and a
list of every agent (``core-agent status``) fits in one gRPC message.
"""

from __future__ import annotations

from collections.abc import Sequence

from comp.core.remoteagentregistry.def_ import InvalidRegistrationError, Params

__all__ = [
    "MAX_AGENTS",
    "MAX_API_ENDPOINT_URI_CHARS",
    "MAX_DISPLAY_NAME_CHARS",
    "MAX_FLAVOR_CHARS",
    "MAX_PID_CHARS",
    "MAX_SERVICES",
    "MAX_SERVICE_CHARS",
    "validate_registration",
]

MAX_AGENTS = Params().max_agents
MAX_DISPLAY_NAME_CHARS = 128
MAX_FLAVOR_CHARS = 64
MAX_PID_CHARS = 20
MAX_API_ENDPOINT_URI_CHARS = 512
MAX_SERVICES = 16
MAX_SERVICE_CHARS = 128


def validate_registration(
    pid: str, flavor: str, display_name: str, api_endpoint_uri: str, services: Sequence[str]
) -> None:
    """Raise InvalidRegistrationError naming the first field past its bound, and the bound."""
    for field_name, text, limit in (
        ("display_name", display_name, MAX_DISPLAY_NAME_CHARS),
        ("flavor", flavor, MAX_FLAVOR_CHARS),
        ("pid", pid, MAX_PID_CHARS),
        ("api_endpoint_uri", api_endpoint_uri, MAX_API_ENDPOINT_URI_CHARS),
    ):
        _check_length(field_name, text, limit)
    if len(services) > MAX_SERVICES:
        raise InvalidRegistrationError(f"services has {len(services)} entries, the limit is {MAX_SERVICES}")
    for index, service in enumerate(services):
        _check_length(f"services[{index}]", service, MAX_SERVICE_CHARS)


def _check_length(field_name: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidRegistrationError(
            f"{field_name} is too long: {len(text)} characters, the limit is {limit}"
        )
