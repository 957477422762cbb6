"""Config keys that remote agents declare to the core, so that the core types, validates, masks and
lets ``config set`` change them like its own.

Two ways, both read once when the core starts:

- an **entry point** in the group :data:`ENTRY_POINT_GROUP` of an installed distribution, naming a
  function that returns :class:`~pkg.config.schema.KeySpec` objects::

      [project.entry-points."dd_configstream.config_keys"]
      my_agent = "my_agent.keys:config_keys"

- a **declaration file**: every ``*.yaml`` in :data:`DECLARATIONS_DIR` beside the config file used
  (``/etc/datadog-agent/config_keys.d/my_agent.yaml``)::

      keys:
        - key: my_agent.batch_size
          type: int            # str, int, bool, float, duration, list[str], dict[str, str], dict[str, Any]
          default: 100
          minimum: 1
          live: true           # applied while the agent runs (default: needs a restart)
          secret: false
          description: events per batch
      open_groups:             # any key under these prefixes, any plain value, live
        - prefix: my_agent.extra
          description: free-form settings

A declaration that clashes with another (the same key twice) or is malformed stops the core at
startup with one line naming the file or entry point and the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from pkg.config.errors import ConfigError
from pkg.config.safe_yaml import YamlLimitError, load_document
from pkg.config.schema import KeySpec, Schema, ValueType

__all__ = [
    "DECLARATIONS_DIR",
    "ENTRY_POINT_GROUP",
    "ConfigDeclarationError",
    "Declared",
    "declare_from_entry_points",
    "declare_from_files",
]

ENTRY_POINT_GROUP = "dd_configstream.config_keys"
DECLARATIONS_DIR = "config_keys.d"
_MAX_FILE_BYTES = 1024 * 1024
_FIELDS = frozenset(
    {"key", "type", "default", "aliases", "secret", "choices", "minimum", "maximum", "description", "live"}
)


class ConfigDeclarationError(ConfigError):
    """A key declaration cannot be read or clashes with another."""

    def __init__(self, origin: str, reason: str) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(f"key declarations of {origin}: {reason}")


@dataclass(frozen=True)
class Declared:
    """Where declarations came from (for the startup log)."""

    origin: str
    keys: tuple[str, ...]


def declare_from_entry_points(schema: Schema) -> list[Declared]:
    """Declare the keys of every entry point of :data:`ENTRY_POINT_GROUP`. Raises ConfigDeclarationError
    naming the entry point when it cannot be loaded or returns something else than key specs."""
    declared = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        origin = f"entry point {point.name!r} ({point.value})"
        try:
            specs = list(point.load()())
        except Exception as exc:
            raise ConfigDeclarationError(origin, f"cannot load: {exc}") from exc
        declared.append(Declared(origin, _declare_all(schema, specs, origin)))
    return declared


def declare_from_files(schema: Schema, config_file: Path | None) -> list[Declared]:
    """Declare the keys of every ``*.yaml`` in :data:`DECLARATIONS_DIR` beside ``config_file``."""
    if config_file is None:
        return []
    directory = config_file.parent / DECLARATIONS_DIR
    if not directory.is_dir():
        return []
    return [_declare_file(schema, path) for path in sorted(directory.glob("*.yaml"))]


def _declare_file(schema: Schema, path: Path) -> Declared:
    origin = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(_MAX_FILE_BYTES + 1)
        if len(raw) > _MAX_FILE_BYTES:
            raise ConfigDeclarationError(origin, f"bigger than {_MAX_FILE_BYTES} bytes")
        data, _node = load_document(raw.decode("utf-8"))
    except ConfigDeclarationError:
        raise
    except (OSError, UnicodeDecodeError, YamlLimitError, yaml.YAMLError, ValueError) as exc:
        raise ConfigDeclarationError(origin, f"cannot read: {exc}") from exc
    if data is None:
        return Declared(origin, ())
    if not isinstance(data, Mapping) or set(data) - {"keys", "open_groups"}:
        raise ConfigDeclarationError(origin, "expected a mapping with 'keys' and/or 'open_groups'")
    specs = [_spec(entry, origin) for entry in _entries(data.get("keys"), "keys", origin)]
    keys = list(_declare_all(schema, specs, origin))
    for entry in _entries(data.get("open_groups"), "open_groups", origin):
        if not isinstance(entry.get("prefix"), str) or set(entry) - {"prefix", "description"}:
            raise ConfigDeclarationError(origin, f"open group {entry!r}: expected 'prefix' and 'description'")
        try:
            schema.declare_open_group(entry["prefix"], str(entry.get("description", "")))
        except (ValueError, RuntimeError) as exc:
            raise ConfigDeclarationError(origin, str(exc)) from exc
        keys.append(entry["prefix"] + ".*")
    return Declared(origin, tuple(keys))


def _entries(value: Any, name: str, origin: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise ConfigDeclarationError(origin, f"{name!r} must be a list of mappings")
    return value


def _spec(entry: Mapping[str, Any], origin: str) -> KeySpec:
    key = entry.get("key")
    unknown = set(entry) - _FIELDS
    if not isinstance(key, str) or unknown:
        what = f"unknown fields {sorted(unknown)}" if unknown else "no 'key'"
        raise ConfigDeclarationError(origin, f"declaration {key!r}: {what}")
    try:
        value_type = ValueType(entry.get("type", "str"))
    except ValueError:
        expected = ", ".join(t.value for t in ValueType)
        raise ConfigDeclarationError(
            origin, f"key {key!r}: type {entry.get('type')!r} is not one of {expected}"
        ) from None
    try:
        return KeySpec(
            key,
            value_type,
            entry.get("default"),
            aliases=tuple(entry.get("aliases", ())),
            secret=bool(entry.get("secret", False)),
            choices=tuple(entry.get("choices", ())),
            minimum=entry.get("minimum"),
            maximum=entry.get("maximum"),
            description=str(entry.get("description", "")),
            live=bool(entry.get("live", False)),
        )
    except TypeError as exc:
        raise ConfigDeclarationError(origin, f"key {key!r}: {exc}") from exc


def _declare_all(schema: Schema, specs: Iterable[Any], origin: str) -> tuple[str, ...]:
    keys = []
    for spec in specs:
        if not isinstance(spec, KeySpec):
            raise ConfigDeclarationError(origin, f"expected KeySpec objects, got {type(spec).__name__}")
        try:
            schema.declare(spec)
        except (ValueError, RuntimeError) as exc:  # ConfigValueError (a bad default) is a ValueError
            raise ConfigDeclarationError(origin, f"key {spec.key!r}: {exc}") from exc
        keys.append(spec.key)
    return tuple(keys)
