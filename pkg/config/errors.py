"""Config errors. Every message names what was wrong: the key or file, the value, what was expected."""

from __future__ import annotations

from typing import Any

from pkg.scrub import MASK, is_secret_key, mask

__all__ = ["ConfigError", "ConfigFileError", "ConfigKeyError", "ConfigValueError"]


class ConfigError(Exception):
    """Base class of config errors."""


class ConfigValueError(ConfigError, ValueError):
    """A value does not fit its key's declared type.

    The message never shows a secret: when ``secret`` is true, or left None and the key's name is a
    credential's (:func:`pkg.scrub.is_secret_key`), the value is shown masked with only its type
    (``'api_key': ******** (a list)``). ``value`` keeps the value itself for the code that catches it.
    """

    def __init__(
        self, key: str, value: Any, expected: str, *, origin: str | None = None, secret: bool | None = None
    ) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.origin = origin
        self.secret = is_secret_key(str(key)) if secret is None else secret
        where = f" (from {origin})" if origin else ""
        shown = _masked_repr(value) if self.secret else repr(value)
        super().__init__(f"invalid value for {key!r}{where}: {shown}, expected {expected}")


def _masked_repr(value: Any) -> str:
    """A string masked like everywhere else; any other value wholly masked, with its type."""
    if isinstance(value, str):
        return f"{mask(value) or repr('')} (a string)"
    name = type(value).__name__
    return f"{MASK} ({'an' if name[0] in 'aeiou' else 'a'} {name})"


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
