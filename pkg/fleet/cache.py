"""The cache file: the last fleet values read from etcd, so that a core started while etcd is down
starts with them. JSON, written atomically (temporary file + rename), mode 0600 (values may be
secrets)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pkg.fleet.layers import Entry

__all__ = ["CacheError", "FleetCache", "load_cache", "save_cache"]

_FORMAT = 1
MAX_CACHE_BYTES = 64 * 1024 * 1024


class CacheError(ValueError):
    """The cache file cannot be read or written (the message names the file and why)."""


@dataclass(frozen=True)
class FleetCache:
    """What the cache holds: the prefix it was read under, the etcd revision, when it was saved,
    and scope → key → entry."""

    prefix: str
    revision: int
    saved_unix: float
    values: dict[str, dict[str, Entry]] = field(default_factory=dict)


def save_cache(path: Path, cache: FleetCache) -> None:
    """Write ``cache`` to ``path`` atomically (0600)."""
    document = {
        "format": _FORMAT,
        "prefix": cache.prefix,
        "revision": cache.revision,
        "saved_unix": cache.saved_unix,
        "values": {
            scope: {key: {"text": e.text, "revision": e.revision} for key, e in sorted(values.items())}
            for scope, values in cache.values.items()
        },
    }
    data = json.dumps(document, ensure_ascii=False, indent=1).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CacheError(f"cannot write the fleet cache {str(path)!r}: {exc.strerror}") from None


def load_cache(path: Path) -> FleetCache | None:
    """The cache at ``path``; None when there is none. CacheError when it is unreadable or malformed."""
    try:
        if path.stat().st_size > MAX_CACHE_BYTES:
            raise CacheError(f"fleet cache {str(path)!r} is over {MAX_CACHE_BYTES} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CacheError(f"cannot read the fleet cache {str(path)!r}: {exc.strerror}") from None
    try:
        document: Any = json.loads(raw)
        if document.get("format") != _FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {_FORMAT}")
        values = {
            str(scope): {
                str(key): Entry(str(e["text"]), int(e["revision"])) for key, e in dict(entries).items()
            }
            for scope, entries in dict(document["values"]).items()
        }
        return FleetCache(
            str(document["prefix"]), int(document["revision"]), float(document["saved_unix"]), values
        )
    except KeyError as exc:
        raise CacheError(f"fleet cache {str(path)!r} is malformed: no field {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise CacheError(f"fleet cache {str(path)!r} is malformed: {exc}") from None
