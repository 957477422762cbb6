"""Config errors. Every message names what was wrong: the key or file, the value, what was expected."""

from __future__ import annotations

from typing import Any

from pkg.scrub import MASK, is_secret_key, mask
from pkg.util.text import shorten

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigKeyConflictError",
    "ConfigKeyError",
    "ConfigLimitError",
    "ConfigRestartRequiredError",
    "ConfigValueError",
]


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
        shown = _masked_repr(str(key), value) if self.secret else repr(value)
        super().__init__(f"invalid value for {key!r}{where}: {shown}, expected {expected}")


def _masked_repr(key: str, value: Any) -> str:
    """A string masked like everywhere else; any other value wholly masked, with its type."""
    if isinstance(value, str):
        return f"{mask(value, key) or repr('')} (a string)"
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
    """A key is malformed: empty, with an empty dotted segment (``a..b``), or too long."""

    def __init__(self, key: Any, value: Any = None, *, max_chars: int | None = None) -> None:
        text = key if isinstance(key, str) else repr(key)
        shown = shorten(text)
        super().__init__(shown, value, "a key made of non-empty dot-separated names")
        if max_chars is not None and len(text) > max_chars:
            reason = f"{len(text)} characters, the limit is {max_chars}"
        else:
            reason = "expected non-empty dot-separated names"
        self.args = (f"invalid config key {shown}: {reason}",)


class ConfigLimitError(ConfigError, ValueError):
    """An input is over a limit (size, nesting, YAML aliases); nothing was changed.

    ``key``: the setting concerned ("" for the whole config), ``limit``: the name of the limit (a
    config key such as ``config_limits.value_max_bytes``, or a constant), ``maximum``: its value.
    The message never contains the value itself, which may be big or secret.
    """

    def __init__(self, key: str, message: str, *, limit: str, maximum: int) -> None:
        self.key = key
        self.limit = limit
        self.maximum = maximum
        super().__init__(message)


class ConfigKeyConflictError(ConfigError, ValueError):
    """A key would be both a setting (a leaf) and a group of settings: ``x`` and ``x.y``.

    ``key`` is the key being set, ``other`` the key already there (or set in the same change), held
    by ``other_source``.
    """

    def __init__(self, key: str, other: str, *, source: str, other_source: str) -> None:
        self.key = key
        self.other = other
        self.source = source
        self.other_source = other_source
        leaf, group = (other, key) if key.startswith(other + ".") else (key, other)
        super().__init__(
            f"cannot set {key!r} at {source}: {other!r} is set at {other_source}, and a key cannot be "
            f"both a setting and a group of settings ({leaf!r} holds a value, {group!r} lies under it); "
            f"unset one of them first"
        )


class ConfigRestartRequiredError(ConfigError, ValueError):
    """A setting read only at startup cannot change while the agent runs."""

    def __init__(self, key: str, in_force: object) -> None:
        self.key = key
        self.in_force = in_force
        super().__init__(
            f"cannot change {key!r} while the agent runs: it is read at startup "
            f"(in force: {in_force!r}); change it in the config file and restart"
        )
