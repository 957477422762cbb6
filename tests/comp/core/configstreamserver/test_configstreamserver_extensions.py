"""The handler hands the request's extensions to the producer and refuses a filter over its bounds."""

from __future__ import annotations

import grpc
import pytest

from comp.core.configstream.def_ import MAX_FILTER_ENTRIES, KeyFilter
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import KeyFilter as WireKeyFilter
from tests.comp.core.configstreamserver.test_configstreamserver_handler import (
    Served,
    first_error,
    ipc,
    read,
    registry,
    served,
    session,
    stream,
)

__all__ = ["ipc", "registry", "served", "stream"]  # fixtures


async def test_extensions_reach_the_producer(served: Served) -> None:
    request = ConfigStreamRequest(
        name="filtered",
        max_batch_updates=64,
        filter=WireKeyFilter(keys=["log_level"], prefixes=["apm_config"]),
        progress=True,
    )
    call = served.stub.StreamConfigEvents(request, metadata=session(served), timeout=10)
    await read(call, 1)
    (subscription,) = served.stream.subscriptions
    assert subscription.max_batch_updates == 64
    assert subscription.key_filter == KeyFilter(keys=("log_level",), prefixes=("apm_config",))
    assert subscription.progress is True
    call.cancel()


async def test_a_request_without_extensions_asks_for_none(served: Served) -> None:
    call = served.stub.StreamConfigEvents(
        ConfigStreamRequest(name="plain"), metadata=session(served), timeout=10
    )
    await read(call, 1)
    (subscription,) = served.stream.subscriptions
    assert (subscription.max_batch_updates, subscription.key_filter, subscription.progress) == (
        0,
        None,
        False,
    )
    call.cancel()


async def test_an_empty_filter_lets_nothing_through(served: Served) -> None:
    request = ConfigStreamRequest(filter=WireKeyFilter())
    call = served.stub.StreamConfigEvents(request, metadata=session(served), timeout=10)
    await read(call, 1)
    assert served.stream.subscriptions[0].key_filter == KeyFilter()
    call.cancel()


@pytest.mark.parametrize(
    ("wire_filter", "details"),
    [
        (WireKeyFilter(keys=["ok", ""]), "filter.keys[1] is empty"),
        (
            WireKeyFilter(prefixes=["p" * 257]),
            "filter.prefixes[0] is too long: 257 characters, the limit is 256",
        ),
        (
            WireKeyFilter(keys=["k"] * MAX_FILTER_ENTRIES, prefixes=["p"]),
            f"filter has {MAX_FILTER_ENTRIES + 1} keys and prefixes, the limit is {MAX_FILTER_ENTRIES}",
        ),
    ],
)
async def test_a_bad_filter_is_refused_before_subscribing(
    served: Served, wire_filter: WireKeyFilter, details: str
) -> None:
    request = ConfigStreamRequest(filter=wire_filter)
    error = await first_error(served.stub.StreamConfigEvents(request, metadata=session(served), timeout=10))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, details)
    assert served.stream.subscriptions == []
