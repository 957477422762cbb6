"""The etcd client against a real etcd: range, compare-and-write, watch, compaction, failover."""

from __future__ import annotations

import asyncio

import pytest

from pkg.etcd import EtcdClient, EtcdCompactedError, EtcdOptions, EtcdUnavailableError, WatchBatch
from tests.etcd_server import EtcdCluster, reserve_port


async def _next(it: object) -> WatchBatch:
    import asyncio

    batch: WatchBatch = await asyncio.wait_for(it.__anext__(), 10)  # type: ignore[attr-defined]
    return batch


async def test_range_put_and_compare_on_revision(etcd: EtcdCluster) -> None:
    client = EtcdClient(etcd.options())
    try:
        created = await client.put("/p/global/log_level", b"debug", expected_revision=0)
        assert created.succeeded
        refused = await client.put("/p/global/log_level", b"info", expected_revision=0)
        assert not refused.succeeded
        assert refused.current is not None
        assert refused.current.value == b"debug"
        assert refused.current.mod_revision == created.revision
        replaced = await client.put("/p/global/log_level", b"info", expected_revision=created.revision)
        assert replaced.succeeded
        kvs, revision = await client.range_prefix("/p/")
        assert [(kv.key, kv.value) for kv in kvs] == [("/p/global/log_level", b"info")]
        assert revision == replaced.revision
        assert not (await client.delete("/p/global/log_level", expected_revision=created.revision)).succeeded
        assert (await client.delete("/p/global/log_level", expected_revision=None)).succeeded
        assert (await client.get("/p/global/log_level"))[0] is None
    finally:
        await client.close()


async def test_watch_from_a_revision_and_compaction(etcd: EtcdCluster) -> None:
    client = EtcdClient(etcd.options())
    try:
        first = await client.put("/p/a", b"1", expected_revision=None)
        await client.put("/p/b", b"2", expected_revision=None)
        await client.delete("/p/a", expected_revision=None)
        watch = client.watch_prefix("/p/", first.revision)
        assert (await _next(watch)).created
        seen: list[tuple[str, str, int]] = []
        while len(seen) < 3:
            seen.extend((e.kind, e.key, e.revision) for e in (await _next(watch)).events)
        assert seen == [
            ("put", "/p/a", first.revision),
            ("put", "/p/b", first.revision + 1),
            ("delete", "/p/a", first.revision + 2),
        ]
        await watch.aclose()  # type: ignore[attr-defined]
        await asyncio.to_thread(etcd.etcdctl, "compact", str(first.revision + 2), "--physical")
        with pytest.raises(EtcdCompactedError) as caught:
            async for _ in client.watch_prefix("/p/", first.revision):
                pass
        assert caught.value.compact_revision == first.revision + 2
    finally:
        await client.close()


async def test_unreachable_endpoint_is_skipped(etcd: EtcdCluster) -> None:
    dead = f"127.0.0.1:{reserve_port()}"
    client = EtcdClient(EtcdOptions(endpoints=(dead, *etcd.endpoints), timeout=2.0))
    try:
        assert (await client.put("/p/x", b"1", expected_revision=None)).succeeded
        assert client.endpoint == etcd.endpoints[0]
    finally:
        await client.close()
    only_dead = EtcdClient(EtcdOptions(endpoints=(dead,), timeout=1.0))
    try:
        with pytest.raises(EtcdUnavailableError, match=dead):
            await only_dead.get("/p/x")
    finally:
        await only_dead.close()
