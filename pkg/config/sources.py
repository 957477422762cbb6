"""Config sources (layers), lowest priority first."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SOURCES_BY_PRIORITY", "Source"]


class Source(StrEnum):
    """Where a value comes from. The effective value of a key is the one of its highest source."""

    DEFAULT = "default"
    UNKNOWN = "unknown"
    INFRA_MODE = "infra-mode"
    FILE = "file"
    ENVIRONMENT_VARIABLE = "environment-variable"
    FLEET_POLICIES = "fleet-policies"
    AGENT_RUNTIME = "agent-runtime"
    LOCAL_CONFIG_PROCESS = "local-config-process"
    REMOTE_CONFIG = "remote-config"
    CLI = "cli"

    @property
    def priority(self) -> int:
        """Position in :data:`SOURCES_BY_PRIORITY` (0 is the lowest)."""
        return _PRIORITY[self]


SOURCES_BY_PRIORITY: tuple[Source, ...] = tuple(Source)
_PRIORITY = {s: i for i, s in enumerate(SOURCES_BY_PRIORITY)}
