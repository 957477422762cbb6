"""An in-memory config for tests: no file, no environment, filled with one call.

Usage::

    config = new_mock({"cmd_port": 0, "remote_agent.registry.idle_timeout": "1s"})
    config.set("log_level", "debug", Source.AGENT_RUNTIME)   # a real layered config: callbacks fire

Values of declared keys are validated as in production, so a test cannot hold a config the agent
would refuse by accident. To see how a component copes with such a value, name its key in
``unchecked``: that key keeps its type but loses its choices and bounds, at construction and in
later changes::

    config = new_mock({"log_level": "verbose"}, unchecked=["log_level"])

The size limits are those ``settings`` give (``config_limits.*``), read once as at startup.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pkg.config.loader import startup_limits
from pkg.config.model import LayeredConfig
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source

__all__ = ["MockConfig", "new_mock"]


class MockConfig(LayeredConfig):
    """The real layered config, which also tells how many update callbacks are subscribed."""

    @property
    def subscriber_count(self) -> int:
        """Callbacks given to :meth:`on_update` and not unsubscribed yet."""
        with self._lock:
            return len(self._callbacks)


def _unchecked(schema: Schema, keys: Collection[str]) -> Schema:
    """A copy of ``schema`` in which ``keys`` have no choices and no bounds; declared keys keep every
    name they had (aliases, and names under old prefixes)."""
    names = {schema.canonical(key) for key in keys}
    undeclared = sorted(name for name in names if schema.spec(name) is None)
    if undeclared:
        raise ValueError(f"unchecked keys must be declared keys: {undeclared}")
    specs = (replace(spec, aliases=schema.names(spec.key)[1:]) for spec in schema)
    loose = Schema(
        replace(spec, choices=(), minimum=None, maximum=None) if spec.key in names else spec for spec in specs
    )
    for prefix, description in schema.open_groups().items():
        loose.declare_open_group(prefix, description)
    return loose


def new_mock(
    settings: Mapping[str, Any] | None = None,
    source: Source = Source.FILE,
    *,
    schema: Schema | None = None,
    config_file: Path | None = None,
    unchecked: Collection[str] = (),
) -> MockConfig:
    """A config with the schema's defaults and ``settings`` at ``source`` (one sequence id per change).

    ``config_file`` is only reported by ``config_file_used()``; nothing is read from it.
    ``unchecked``: declared keys that take any value of their type (see the module docstring).
    """
    schema = schema if schema is not None else default_schema()
    if unchecked:
        schema = _unchecked(schema, unchecked)
    leaves: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        leaves.update(schema.prepare(key, value, origin=str(source)))
    config = MockConfig(schema, config_file=config_file, limits=startup_limits(schema, leaves))
    if leaves:
        config.set_many(leaves, source)
    config.seal_startup_settings()
    return config
