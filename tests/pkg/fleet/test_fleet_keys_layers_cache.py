"""Fleet key layout, scope priority and the cache file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp.core.fleet.impl.backoff import Backoff
from pkg.etcd.client import prefix_end
from pkg.fleet import (
    CacheError,
    Entry,
    FleetCache,
    FleetKeyError,
    FleetLayers,
    default_scopes,
    load_cache,
    parse_key,
    save_cache,
    storage_key,
)


def test_default_scopes_from_env_tag_and_hostname() -> None:
    assert default_scopes("web-7", ["team:x", "env:prod", "env:other"]) == (
        "global",
        "env:prod",
        "host:web-7",
    )
    assert default_scopes("", ["env:"]) == ("global",)


def test_keys_round_trip_and_bad_names_are_refused() -> None:
    raw = storage_key("/dd/", "host:web-7", "logs_config.enabled")
    assert raw == "/dd/host:web-7/logs_config.enabled"
    assert parse_key("/dd/", raw) == ("host:web-7", "logs_config.enabled")
    assert parse_key("/dd/", "/dd/global") is None
    assert parse_key("/dd/", "/dd/a/b/c") is None
    assert parse_key("/dd/", "/other/global/x") is None
    with pytest.raises(FleetKeyError, match="invalid fleet scope 'a/b'"):
        storage_key("/dd/", "a/b", "x")
    with pytest.raises(FleetKeyError, match="invalid fleet key ''"):
        storage_key("/dd/", "global", "")


def test_prefix_end_covers_exactly_the_prefix() -> None:
    assert prefix_end(b"/dd/") == b"/dd0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff") == b"\0"


def test_highest_scope_wins_and_replace_reports_changed_keys() -> None:
    layers = FleetLayers(("global", "env:prod", "host:h"))
    layers.put("global", "k", Entry("1", 5))
    assert not layers.put("host:other", "k", Entry("9", 6))
    layers.put("host:h", "k", Entry("3", 7))
    assert layers.effective("k") == ("host:h", Entry("3", 7))
    assert layers.delete("host:h", "k")
    assert layers.effective("k") == ("global", Entry("1", 5))
    changed = layers.replace({"global": {"k": Entry("1", 5)}, "env:prod": {"j": Entry("2", 8)}})
    assert changed == {"j"}
    assert layers.replace({}) == {"j", "k"}
    assert layers.effective("k") is None


def test_cache_round_trip_is_private_and_malformed_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "cache.json"
    assert load_cache(path) is None
    cache = FleetCache("/dd/", 42, 1.5, {"global": {"log_level": Entry("warn", 40)}})
    save_cache(path, cache)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_cache(path) == cache
    path.write_text(json.dumps({"format": 1, "prefix": "/dd/"}))
    with pytest.raises(CacheError, match="malformed: no field 'values'"):
        load_cache(path)


def test_backoff_doubles_to_the_cap_with_jitter_and_resets() -> None:
    draws = iter([0.0, 0.999, 0.0, 0.0, 0.0, 0.0])
    backoff = Backoff(0.1, 0.4, lambda: next(draws))
    delays = [round(backoff.next_delay(), 3) for _ in range(4)]
    assert delays == [0.05, 0.2, 0.2, 0.2]
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.05)
