"""The key filter a consumer asks the core for, checked and matched on the consumer's side too.

The core of this project streams only the matching keys; a core that does not know the extension
streams every key, so the consumer drops the others itself and the view holds the same keys whatever
the core. A read of a key outside the filter raises :class:`KeyNotStreamedError`: the view cannot
know its value, and a default would hide that.
"""

from __future__ import annotations

from collections.abc import Collection

from comp.core.configstreamconsumer.def_ import MAX_FILTER_NAMES, KeyNotStreamedError
from pkg.config.errors import ConfigKeyError
from pkg.config.schema import MAX_KEY_CHARS, Schema, default_schema
from pkg.proto.gen.datadog.model.v1 import configstream_pb2

__all__ = ["StreamFilter", "filter_names"]


def filter_names(field: str, names: Collection[str] | None, schema: Schema | None = None) -> tuple[str, ...]:
    """``names`` checked and in canonical form (lower case, old names replaced), without duplicates.

    Raises ValueError naming ``field``, the position and the name when one is not a key name, and
    TypeError when ``names`` is a single string (a common slip for a list of one).
    """
    if names is None:
        return ()
    if isinstance(names, str | bytes):
        raise TypeError(f"config stream filter {field}: expected a list of names, not the string {names!r}")
    schema = schema if schema is not None else default_schema()
    out: dict[str, None] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise ValueError(f"invalid config stream filter {field}[{i}]: {name!r}, expected a key name")
        if not name.strip():
            raise ValueError(
                f"invalid config stream filter {field}[{i}]: {name!r} is empty, expected a key name"
            )
        try:
            out[schema.canonical(name)] = None
        except ConfigKeyError:
            shown = name if len(name) <= 80 else name[:80] + "…"
            raise ValueError(
                f"invalid config stream filter {field}[{i}]: {shown!r} ({len(name)} characters), expected "
                f"non-empty dot-separated names of at most {MAX_KEY_CHARS} characters"
            ) from None
    return tuple(out)


class StreamFilter:
    """``keys`` and ``prefixes`` (canonical, see :func:`filter_names`); neither: every key."""

    def __init__(self, keys: Collection[str] = (), prefixes: Collection[str] = ()) -> None:
        self.keys = tuple(keys)
        self.prefixes = tuple(prefixes)
        count = len(self.keys) + len(self.prefixes)
        if count > MAX_FILTER_NAMES:
            raise ValueError(
                f"invalid config stream filter: {count} keys and prefixes, the limit is {MAX_FILTER_NAMES}"
            )
        self._keys = frozenset(self.keys)
        self._starts = tuple(p + "." for p in self.prefixes)
        self._prefixes = frozenset(self.prefixes)

    @property
    def active(self) -> bool:
        """True when the stream is filtered."""
        return bool(self.keys or self.prefixes)

    def matches(self, key: str) -> bool:
        """True for a key the stream carries."""
        if not self.active or key in self._keys or key in self._prefixes:
            return True
        return key.startswith(self._starts)

    def check_read(self, key: str) -> None:
        """Raise :class:`KeyNotStreamedError` unless every leaf of ``key`` (a key or a prefix of keys,
        canonical) is streamed."""
        if not self.matches(key):
            raise KeyNotStreamedError(key, self.keys, self.prefixes)

    def to_wire(self) -> configstream_pb2.KeyFilter | None:
        """The request's ``filter`` field; None when the stream is not filtered."""
        if not self.active:
            return None
        return configstream_pb2.KeyFilter(keys=self.keys, prefixes=self.prefixes)

    def __repr__(self) -> str:
        return f"StreamFilter(keys={self.keys!r}, prefixes={self.prefixes!r})"
