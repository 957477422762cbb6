"""An in-memory config for tests: no file, no environment, filled with one call.

Usage::

    config = new_mock({"cmd_port": 0, "remote_agent.registry.idle_timeout": "1s"})
    config.set("log_level", "debug", Source.AGENT_RUNTIME)   # a real layered config: callbacks fire

Values of declared keys are validated as in production, so a test cannot hold a config the agent
would refuse. The size limits are those ``settings`` give (``config_limits.*``), read once as at startup.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pkg.config.loader import startup_limits
from pkg.config.model import LayeredConfig
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source

__all__ = ["new_mock"]


def new_mock(
    settings: Mapping[str, Any] | None = None,
    source: Source = Source.FILE,
    *,
    schema: Schema | None = None,
    config_file: Path | None = None,
) -> LayeredConfig:
    """A config with the schema's defaults and ``settings`` at ``source`` (one sequence id per change).

    ``config_file`` is only reported by ``config_file_used()``; nothing is read from it.
    """
    schema = schema if schema is not None else default_schema()
    leaves: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        leaves.update(schema.prepare(key, value, origin=str(source)))
    config = LayeredConfig(schema, config_file=config_file, limits=startup_limits(schema, leaves))
    if leaves:
        config.set_many(leaves, source)
    config.seal_startup_settings()
    return config
