"""Definition of the diagnostics component: the host-wide status and flare of the core agent.

Served as ``configstream.remoteagents.v1.RemoteAgents`` (``GetRemoteAgentStatus``, ``CreateFlare``)
for the command-line client. Every text in a flare is masked.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Component"]


@runtime_checkable
class Component(Protocol):
    async def remote_agents_status(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per registered agent: identity, ``main_section``,
        ``named_sections`` and ``error`` (why it could not be queried, else None). The sections and
        the error are scrubbed of secrets (``pkg.scrub``, knowing the core's secret values) as the
        flare is."""
        ...

    async def flare_files(self) -> dict[str, bytes]:
        """Path in the archive -> content: the core's files under ``core/``, each remote agent's
        under ``<sanitized display name>/`` (``UNREACHABLE.txt`` when it could not be queried).

        The whole fits one message of ``agent_ipc.grpc_max_message_size``: files over a per-file
        limit are truncated with a marker line, files past the total limit are replaced by a note,
        and ``FLARE_TRUNCATED.txt`` lists what was cut (the core's files are kept first)."""
        ...
