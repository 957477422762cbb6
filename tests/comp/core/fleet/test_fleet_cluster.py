"""Three etcd members, the leader killed while writes go on: every core converges, in order, losing
nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pkg.config.change import ConfigChange
from pkg.etcd import EtcdClient, EtcdError, EtcdOptions
from tests.comp.core.fleet.fleet_support import PREFIX, RunningFleet, fleet_settings
from tests.etcd_server import EtcdCluster

WRITES = 60
KILL_AFTER = 20


async def _write_all(cluster: EtcdCluster, killed: asyncio.Event) -> int:
    """Write tags [1] .. [WRITES], each until it is acknowledged; returns the last revision."""
    client = EtcdClient(EtcdOptions(endpoints=cluster.endpoints, timeout=1.0))
    revision = 0
    try:
        for i in range(1, WRITES + 1):
            if i == KILL_AFTER:
                (await cluster.leader()).kill()
                killed.set()
            while True:
                try:
                    result = await client.put(
                        PREFIX + "global/tags", f"[{i}]".encode(), expected_revision=None
                    )
                    revision = result.revision
                    break
                except EtcdError:
                    continue  # an election is under way; the client has moved to the next member
    finally:
        await client.close()
    return revision


async def test_leader_killed_while_writing_every_core_converges_in_order(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    cores = []
    seen: list[list[int]] = []
    for n in range(3):
        # each core starts on a different member
        endpoints = etcd_cluster.endpoints[n:] + etcd_cluster.endpoints[:n]
        core = RunningFleet(fleet_settings(endpoints, tmp_path / f"cache{n}.json"))
        values: list[int] = []

        def record(change: ConfigChange, values: list[int] = values) -> None:
            if change.key == "tags":
                values.append(int(change.new[0]))

        core.config.on_update(record)
        cores.append(await core.start())
        seen.append(values)
    try:
        killed = asyncio.Event()
        last = await _write_all(etcd_cluster, killed)
        assert killed.is_set()
        for core in cores:
            assert await core.fleet.wait_revision(last, 30)
            assert core.value("tags") == ([str(WRITES)], "remote-config")
        for values in seen:
            assert values == list(range(1, WRITES + 1))
        assert sum(core.fleet.status().reconnects for core in cores) >= 1  # the killed member's watcher moved
    finally:
        for core in cores:
            await core.stop()
