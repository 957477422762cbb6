"""Fleet configuration kept in etcd: key layout, scopes with priority, and the cache file.

A key ``<prefix><scope>/<dotted.key>`` holds one value as YAML text. Scopes are ordered, lowest
priority first (default ``global``, ``env:<env>``, ``host:<hostname>``); the effective fleet value
of a key is the one from the highest-priority scope that has it.
"""

from pkg.fleet.cache import CacheError, FleetCache, load_cache, save_cache
from pkg.fleet.keys import FleetKeyError, default_scopes, parse_key, scope_prefix, storage_key
from pkg.fleet.layers import Entry, FleetLayers

__all__ = [
    "CacheError",
    "Entry",
    "FleetCache",
    "FleetKeyError",
    "FleetLayers",
    "default_scopes",
    "load_cache",
    "parse_key",
    "save_cache",
    "scope_prefix",
    "storage_key",
]
