"""The config keys of the sample remote agent, declared to the core agent.

The core finds :func:`config_keys` through the entry point group ``dd_configstream.config_keys``
(``pyproject.toml``), so it types, validates, masks and lets ``core-agent config set`` change these
keys like its own. This module imports only the schema: the core loads it at startup.
"""

from __future__ import annotations

from pkg.config.schema import KeySpec, ValueType

__all__ = ["GREETING_KEY", "LOG_LEVEL_KEY", "STREAMED_KEYS", "STREAMED_PREFIXES", "config_keys"]

GREETING_KEY = "sample_remote_agent.greeting"
LOG_LEVEL_KEY = "log_level"

STREAMED_KEYS = (LOG_LEVEL_KEY,)
"""The core's keys this agent reads: the only ones it asks the core to stream (with its prefix)."""
STREAMED_PREFIXES = ("sample_remote_agent",)
"""This agent's own keys, all under its prefix."""


def config_keys() -> list[KeySpec]:
    """The keys this agent reads from the core's config stream."""
    return [
        KeySpec(
            GREETING_KEY,
            ValueType.STRING,
            "hello",
            live=True,
            description="logged by the sample remote agent when it is ready and whenever it changes",
        ),
    ]
