"""The "Remote Agents" section of ``core-agent status``, as JSON-ready dicts and as text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_remote_agents"]


def _fields(out: list[str], fields: Mapping[str, Any], indent: str) -> None:
    for key in sorted(fields):
        out.append(f"{indent}{key}: {fields[key]}")


def format_remote_agents(agents: Sequence[Mapping[str, Any]]) -> str:
    """Text of the section; each agent is a dict with ``display_name``, ``flavor``, ``pid``,
    ``session_id``, ``error`` (None when queried), ``main_section`` and ``named_sections``."""
    out = ["Remote Agents", "============="]
    if not agents:
        out.append("  (none registered)")
    for agent in agents:
        out.append(f"  {agent['display_name']} (flavor {agent['flavor']}, pid {agent['pid']})")
        out.append(f"    session: {agent['session_id']}")
        if agent.get("error"):
            out.append(f"    status unavailable: {agent['error']}")
            continue
        _fields(out, agent.get("main_section") or {}, "    ")
        named: Mapping[str, Mapping[str, Any]] = agent.get("named_sections") or {}
        for name in sorted(named):
            out.append(f"    [{name}]")
            _fields(out, named[name], "      ")
    return "\n".join(out) + "\n"
