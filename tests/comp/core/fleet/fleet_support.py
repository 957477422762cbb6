"""Building a fleet source on a real config for tests, writing to etcd."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from comp.core.config.mock import new_mock
from comp.core.fleet import def_ as fleet_def
from comp.core.fleet.impl import Requires, new_component
from pkg.config.model import LayeredConfig
from pkg.etcd import EtcdClient, EtcdOptions
from pkg.util.lifecycle import Lifecycle

PREFIX = "/datadog-agent/"
SCOPES = ("global", "env:prod", "host:h1")


def fleet_settings(endpoints: Sequence[str], cache_file: Path, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "remote_config.etcd.endpoints": list(endpoints),
        "remote_config.etcd.scopes": list(SCOPES),
        "remote_config.etcd.cache_file": str(cache_file),
        "remote_config.etcd.request_timeout": "2s",
        "remote_config.etcd.startup_timeout": "5s",
        "remote_config.etcd.reconnect_initial_delay": "20ms",
        "remote_config.etcd.reconnect_max_delay": "200ms",
    }
    settings.update(extra)
    return settings


class RunningFleet:
    """A started fleet source on its own real config; ``stop()`` when done."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.config: LayeredConfig = new_mock(settings)
        self.lifecycle = Lifecycle()
        self.fleet: fleet_def.Component = new_component(Requires(self.lifecycle, self.config)).comp

    async def start(self, *, loaded: bool = True) -> RunningFleet:
        """Start; with ``loaded``, also wait for the first read of etcd (the source's own startup wait
        is ``startup_timeout``, which a loaded machine can outlast)."""
        await self.lifecycle.start()
        if loaded and not await self.fleet.wait_revision(1, 30):
            await self.lifecycle.stop()
            raise AssertionError("the fleet source did not read etcd within 30s")
        return self

    async def stop(self) -> None:
        await self.lifecycle.stop()

    def value(self, key: str) -> tuple[Any, str]:
        """The effective value of ``key`` and its source."""
        return self.config.get(key), str(self.config.get_source(key))


async def put(endpoints: Sequence[str], key: str, text: str) -> int:
    """Write ``text`` at ``key``; returns the revision of the write."""
    client = EtcdClient(EtcdOptions(endpoints=tuple(endpoints), timeout=5.0))
    try:
        return (await client.put(PREFIX + key, text.encode(), expected_revision=None)).revision
    finally:
        await client.close()


async def delete(endpoints: Sequence[str], key: str) -> int:
    client = EtcdClient(EtcdOptions(endpoints=tuple(endpoints), timeout=5.0))
    try:
        return (await client.delete(PREFIX + key, expected_revision=None)).revision
    finally:
        await client.close()
