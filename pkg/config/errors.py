"""Config errors. Every message names what was wrong: the key or file, the value, what was expected."""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "ConfigFileError", "ConfigKeyError", "ConfigValueError"]


class ConfigError(Exception):
    """Base class of config errors."""


class ConfigValueError(ConfigError, ValueError):
    """A value does not fit its key's declared type."""

    def __init__(self, key: str, value: Any, expected: str, *, origin: str | None = None) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        super().__init__(f"invalid value for {key!r}{where}: {value!r}, expected {expected}")


class ConfigFileError(ConfigError):
    """The config file cannot be read or parsed."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        at = f":{line}" if line is not None else ""
        super().__init__(f"config file {path}{at}: {reason}")


class ConfigKeyError(ConfigValueError):
    """A key is malformed: empty, or with an empty dotted segment (``a..b``)."""

    def __init__(self, key: Any, value: Any = None) -> None:
        super().__init__(str(key), value, "a key made of non-empty dot-separated names")
        self.args = (f"invalid config key {key!r}: expected non-empty dot-separated names",)
