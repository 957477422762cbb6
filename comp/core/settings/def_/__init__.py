"""Definition of the runtime settings component.

It reads and changes the core agent's configuration while it runs (changes go to source
``agent-runtime``) and reports the agent's status. The gRPC service
``configstream.settings.v1.Settings`` is a thin layer over it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from comp.core.configstream.def_ import StreamStatus, SubscriberStatus
from pkg.config.reload import ReloadReport

__all__ = [
    "AgentStatus",
    "Component",
    "ReloadReport",
    "RemoteAgentInfo",
    "SettingView",
    "SettingsQuotaError",
    "SettingsValueError",
    "StatusFields",
    "StatusProvider",
]


@dataclass(frozen=True, slots=True)
class SettingView:
    """An effective setting as shown to an operator: secrets have ``masked`` set and a masked value.
    ``live``: a change while the agent runs takes effect; ``description``: the key's declared one."""

    key: str
    value: Any
    source: str
    masked: bool = False
    live: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class RemoteAgentInfo:
    """A registered remote agent; ``last_seen_unix`` is wall-clock seconds since the epoch."""

    session_id: str
    display_name: str
    flavor: str
    pid: str
    last_seen_unix: float
    stream: SubscriberStatus | None = None
    """Its config stream (counters summed over its open streams), None when it streams nothing."""


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What ``core-agent status`` shows."""

    started_unix: float
    listen_address: str
    sequence_id: int
    remote_agents: tuple[RemoteAgentInfo, ...]
    version: str
    pid: int
    config_file: str
    stream_subscribers: int
    fleet: Mapping[str, Any] | None = None
    """The fleet source's status (``FleetStatus.as_dict()``), None when the agent has none."""
    stream: StreamStatus | None = None
    health: str = ""
    telemetry_url: str = ""


class StatusFields(TypedDict, total=False):
    """The fields of :class:`AgentStatus` that other components know, each optional."""

    listen_address: str
    health: str
    fleet: Mapping[str, Any] | None
    telemetry_url: str


StatusProvider = Callable[[], StatusFields]
"""A component's contribution to the agent's status, called at each status request. Components
contribute them as a list (like gRPC services to the server), so the settings component depends on
none of them and a new part of the status never edits it."""


class SettingsValueError(ValueError):
    """A value given to :meth:`Component.set_from_text` was refused; the message names key and value."""


class SettingsQuotaError(SettingsValueError):
    """A change was refused because the settings together would be over their total size
    (``config_limits.total_max_bytes``); it may fit once other settings are unset."""


@runtime_checkable
class Component(Protocol):
    """Runtime access to the configuration of the running agent."""

    def get(self, key: str) -> SettingView | None:
        """The effective value of ``key`` (a prefix gives the nested leaves), or None when absent."""
        ...

    def list(self, prefix: str = "", *, live_only: bool = False) -> tuple[list[SettingView], int]:
        """Every effective leaf setting whose key starts with ``prefix`` (with ``live_only``, only
        those that can change while the agent runs), sorted, and the sequence id."""
        ...

    def set_from_text(self, values: Mapping[str, str]) -> int:
        """Parse each text as YAML and apply all at source ``agent-runtime``; all or nothing. A key that
        refuses the parsed value gets the text as given instead (``"123"`` for a string key).

        Raises SettingsValueError (and changes nothing) when a key is not declared (naming close
        matches), needs a restart (read only at startup), when a value does not fit its key, is over a
        limit (text or serialized value over ``config_limits.value_max_bytes``, YAML anchors or
        aliases, nesting) or would make a key both a setting and a group; SettingsQuotaError when
        the settings together would be over ``config_limits.total_max_bytes``.
        Returns the sequence id after the change.
        """
        ...

    def unset(self, key: str) -> int:
        """Remove ``key`` from source ``agent-runtime``; returns the sequence id after the change.

        Raises SettingsValueError (SettingsQuotaError) when what shows through would be refused.
        """
        ...

    def reload(self) -> ReloadReport:
        """Re-read the config file and the ``DD_*`` environment the agent started with and apply the
        differences at sources ``file`` and ``environment-variable`` (they stream as any change);
        keys read only at startup are reported, not applied. Logs the outcome.

        Raises SettingsValueError (and changes nothing) for an invalid file or variable, or a change
        that is refused.
        """
        ...

    def status(self) -> AgentStatus: ...
