"""The fleet source against one real etcd member: load, watch, scopes, delete, refusals, compaction,
etcd restart, outage with the cache file."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from pkg.etcd import EtcdClient
from tests.comp.core.fleet.fleet_support import PREFIX, RunningFleet, delete, fleet_settings, put
from tests.e2e.relay import Relay
from tests.etcd_server import EtcdCluster
from tests.support.polling import eventually


async def test_load_then_watch_applies_at_remote_config(etcd: EtcdCluster, tmp_path: Path) -> None:
    await put(etcd.endpoints, "global/log_level", "debug")
    await put(etcd.endpoints, "global/tags", "[a, b]")
    await put(etcd.endpoints, "host:other/site", "other.example")  # another host's scope
    running = await RunningFleet(fleet_settings(etcd.endpoints, tmp_path / "cache.json")).start()
    try:
        assert running.value("log_level") == ("debug", "remote-config")
        assert running.value("tags") == (["a", "b"], "remote-config")
        assert running.value("site") == ("datadoghq.com", "default")
        status = running.fleet.status()
        assert (status.state, status.values_from, status.applied_keys) == ("watching", "etcd", 2)

        revision = await put(etcd.endpoints, "global/log_level", "warn")
        assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("warn", "remote-config")
        assert running.fleet.status().revision == revision
    finally:
        await running.stop()


async def test_highest_scope_wins_and_deletes_fall_back(etcd: EtcdCluster, tmp_path: Path) -> None:
    running = await RunningFleet(fleet_settings(etcd.endpoints, tmp_path / "cache.json")).start()
    try:
        await put(etcd.endpoints, "global/log_level", "error")
        await put(etcd.endpoints, "host:h1/log_level", "debug")
        revision = await put(etcd.endpoints, "env:prod/log_level", "warn")
        assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("debug", "remote-config")
        assert running.fleet.applied()["log_level"].scope == "host:h1"

        revision = await delete(etcd.endpoints, "host:h1/log_level")
        assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("warn", "remote-config")

        client = EtcdClient(etcd.options())
        try:  # a whole scope goes at once
            await client.delete(PREFIX + "env:prod/log_level", expected_revision=None)
            revision = (await client.delete(PREFIX + "global/log_level", expected_revision=None)).revision
        finally:
            await client.close()
        assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("info", "default")
        assert running.fleet.applied() == {}
    finally:
        await running.stop()


async def test_invalid_value_is_refused_logged_and_the_watch_goes_on(
    etcd: EtcdCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = await RunningFleet(fleet_settings(etcd.endpoints, tmp_path / "cache.json")).start()
    try:
        assert await running.fleet.wait_revision(await put(etcd.endpoints, "global/log_level", "warn"), 10)
        sequence = running.config.sequence_id
        with caplog.at_level(logging.WARNING, logger="comp.core.fleet"):
            await put(etcd.endpoints, "host:h1/log_level", "loud")  # not a level
            await put(etcd.endpoints, "host:h1/cmd_port", "[1, 2]")  # not an int
            revision = await put(etcd.endpoints, "global/tags", "{a: &x 1, b: *x}")  # YAML alias
            assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("warn", "remote-config")
        assert running.value("cmd_port") == (5001, "default")
        assert running.config.sequence_id == sequence
        assert running.fleet.status().refused == 3
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert any("key log_level, scope host:h1" in m and "loud" in m for m in refusals), refusals
        assert any("key cmd_port, scope host:h1" in m for m in refusals), refusals
        assert any("key tags, scope global" in m for m in refusals), refusals

        revision = await put(etcd.endpoints, "host:h1/log_level", "debug")
        assert await running.fleet.wait_revision(revision, 10)
        assert running.value("log_level") == ("debug", "remote-config")
    finally:
        await running.stop()


async def test_compacted_resume_reads_again_and_applies_only_differences(
    etcd: EtcdCluster, tmp_path: Path
) -> None:
    async with Relay(etcd.members[0].client_port) as relay:
        settings = fleet_settings([relay.address], tmp_path / "cache.json")
        await put(etcd.endpoints, "global/log_level", "warn")
        await put(etcd.endpoints, "global/site", "one.example")
        running = await RunningFleet(settings).start()
        try:
            changes: list[str] = []
            running.config.on_update(lambda change: changes.append(change.key))
            relay.cut()
            await eventually(lambda: running.fleet.status().state == "stale", "the fleet source stale")
            await put(etcd.endpoints, "global/site", "two.example")
            await delete(etcd.endpoints, "global/log_level")
            last = await put(etcd.endpoints, "global/hostname", "fleet-host")
            await asyncio.to_thread(etcd.etcdctl, "compact", str(last), "--physical")
            relay.restore()
            assert await running.fleet.wait_revision(last, 15)
            status = running.fleet.status()
            assert status.resyncs == 1
            assert status.state == "watching"
            assert running.value("site") == ("two.example", "remote-config")
            assert running.value("log_level") == ("info", "default")
            assert running.value("hostname") == ("fleet-host", "remote-config")
            assert sorted(changes) == ["hostname", "log_level", "site"]
        finally:
            await running.stop()


async def test_etcd_restart_resumes_from_the_last_revision(etcd: EtcdCluster, tmp_path: Path) -> None:
    running = await RunningFleet(fleet_settings(etcd.endpoints, tmp_path / "cache.json")).start()
    try:
        revision = await put(etcd.endpoints, "global/log_level", "warn")
        assert await running.fleet.wait_revision(revision, 10)
        etcd.members[0].kill()
        await eventually(lambda: running.fleet.status().state == "stale", "the fleet source stale")
        status = running.fleet.status()
        assert status.stale_since_unix is not None
        assert etcd.endpoints[0] in status.stale_reason
        assert running.value("log_level") == ("warn", "remote-config")  # last values stay in force

        etcd.restart(etcd.members[0])
        await etcd.wait_ready()
        revision = await put(etcd.endpoints, "global/log_level", "debug")
        assert await running.fleet.wait_revision(revision, 15)
        status = running.fleet.status()
        assert (status.state, status.stale_since_unix, status.resyncs) == ("watching", None, 0)
        assert running.value("log_level") == ("debug", "remote-config")
    finally:
        await running.stop()


async def test_outage_keeps_cached_values_for_a_core_started_during_it(
    etcd: EtcdCluster, tmp_path: Path
) -> None:
    cache = tmp_path / "state" / "cache.json"
    first = await RunningFleet(fleet_settings(etcd.endpoints, cache)).start()
    try:
        await put(etcd.endpoints, "global/log_level", "warn")
        revision = await put(etcd.endpoints, "host:h1/site", "h1.example")
        assert await first.fleet.wait_revision(revision, 10)
    finally:
        await first.stop()
    assert cache.stat().st_mode & 0o777 == 0o600
    saved = json.loads(cache.read_text())
    assert saved["revision"] == revision
    assert saved["values"]["host:h1"]["site"]["text"] == "h1.example"

    etcd.members[0].kill()
    settings = fleet_settings(etcd.endpoints, cache, **{"remote_config.etcd.startup_timeout": "300ms"})
    second = await RunningFleet(settings).start(loaded=False)
    try:
        assert second.value("log_level") == ("warn", "remote-config")
        assert second.value("site") == ("h1.example", "remote-config")
        status = second.fleet.status()
        assert status.values_from == "cache"
        await eventually(lambda: second.fleet.status().state == "stale", "the fleet source stale")
        assert second.fleet.status().stale_reason

        etcd.restart(etcd.members[0])
        await etcd.wait_ready()
        revision = await delete(etcd.endpoints, "global/log_level")
        assert await second.fleet.wait_revision(revision, 15)
        assert second.value("log_level") == ("info", "default")
        assert second.value("site") == ("h1.example", "remote-config")
        assert second.fleet.status().values_from == "etcd"
    finally:
        await second.stop()


async def test_tls_with_client_certificate_and_password(tmp_path: Path) -> None:
    from tests.etcd_server import etcd_binary, make_tls_files

    if etcd_binary() is None:
        pytest.fail("no etcd server binary")
    tls = make_tls_files(tmp_path / "tls")
    cluster = EtcdCluster(tmp_path / "etcd", 1, tls=tls)
    cluster.start()
    try:
        await cluster.wait_ready()
        cluster.etcdctl("user", "add", "root:rootpw")
        cluster.etcdctl("user", "add", "fleet:fleetpw")
        cluster.etcdctl("role", "add", "reader")
        cluster.etcdctl("role", "grant-permission", "reader", "--prefix=true", "read", PREFIX)
        cluster.etcdctl("user", "grant-role", "fleet", "reader")
        cluster.etcdctl("auth", "enable")
        cluster.etcdctl("--user=root:rootpw", "put", PREFIX + "global/log_level", "debug")
        url = cluster.members[0].client_url
        settings = fleet_settings(
            [url],
            tmp_path / "cache.json",
            **{
                "remote_config.etcd.ca_file": str(tls.ca),
                "remote_config.etcd.cert_file": str(tls.client_cert),
                "remote_config.etcd.key_file": str(tls.client_key),
                "remote_config.etcd.username": "fleet",
                "remote_config.etcd.password": "fleetpw",
            },
        )
        running = await RunningFleet(settings).start()
        try:
            assert running.value("log_level") == ("debug", "remote-config")
            assert running.fleet.status().state == "watching"
        finally:
            await running.stop()

        wrong = dict(settings)
        wrong["remote_config.etcd.password"] = "nope"
        wrong["remote_config.etcd.startup_timeout"] = "1s"
        wrong["remote_config.etcd.cache_file"] = str(tmp_path / "other-cache.json")
        refused = await RunningFleet(wrong).start(loaded=False)
        try:
            await eventually(lambda: refused.fleet.status().state == "stale", "the fleet source stale")
            assert "authentication failed" in refused.fleet.status().stale_reason
            assert refused.value("log_level") == ("info", "default")
        finally:
            await refused.stop()
    finally:
        cluster.stop()
