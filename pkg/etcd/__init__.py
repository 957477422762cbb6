"""A small asyncio etcd v3 client on stubs generated from etcd's own protos (``pkg/proto/gen/etcd``).

Usage::

    client = EtcdClient(EtcdOptions(endpoints=("127.0.0.1:2379",)))
    kvs, revision = await client.range_prefix("/datadog-agent/")
    async for batch in client.watch_prefix("/datadog-agent/", start_revision=revision + 1):
        ...   # WatchBatch(events, header_revision, created)
    await client.close()
"""

from pkg.etcd.client import EtcdClient, EtcdOptions, KeyValue, TxnResult, WatchBatch, WatchEvent
from pkg.etcd.errors import EtcdCompactedError, EtcdError, EtcdUnavailableError

__all__ = [
    "EtcdClient",
    "EtcdCompactedError",
    "EtcdError",
    "EtcdOptions",
    "EtcdUnavailableError",
    "KeyValue",
    "TxnResult",
    "WatchBatch",
    "WatchEvent",
]
