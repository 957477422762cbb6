"""A value that cannot be sent as a ``google.protobuf.Value``, set through the core's real write path
(``SetSettings``, whose text values are parsed as YAML), is sent as null with its key and source,
logged and counted, and the stream goes on.

The config accepts what the wire cannot carry in two ways: lists nested deeper than the converter's
limit (``pkg.protoconv.values.MAX_DEPTH``; the config keeps any depth), and text holding a lone
surrogate (YAML's ``"\\ud800"`` escape), which is not valid UTF-8. ``SetSettings`` refuses the
latter (``INVALID_ARGUMENT``); a config file can still hold it. Dates, ``!!binary`` and ``.nan`` do
not get that far: the config refuses them and ``SetSettings`` keeps the text as given.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf import struct_pb2

from pkg.protoconv.values import MAX_DEPTH
from tests.e2e.harness import AgentProcess
from tests.e2e.stream_support import (
    SettingsApi,
    StreamClient,
    register,
    scrape,
    view_mismatches,
    wait_metrics,
)

pytestmark = pytest.mark.e2e

CONVERSION_ERRORS = "configstream_conversion_errors_total"
NULL = struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
TOO_DEEP = "[" * (MAX_DEPTH + 8) + "1" + "]" * (MAX_DEPTH + 8)


async def test_too_deep_a_value_is_sent_as_null_counted_and_the_stream_goes_on(agent: AgentProcess) -> None:
    key = "custom.deep"
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        first = StreamClient(agent, channel, await register(agent, channel), name="first").start()
        second: StreamClient | None = None
        try:
            await first.wait_snapshot()
            bad = await api.set({key: TOO_DEEP})
            after = await api.set({"hostname": "after-the-bad-value"})
            await first.wait_sequence_id(after)

            update = first.events[-2].update
            assert update.sequence_id == bad
            assert (update.setting.key, update.setting.source) == (key, "agent-runtime")
            assert update.setting.value == NULL
            assert first.events[-1].update.sequence_id == bad + 1  # the stream goes on, in order
            assert first.view["hostname"] == ("after-the-bad-value", "agent-runtime")
            assert first.error is None and not first.violations
            agent.wait_for_log(rf"config stream: setting '{key}' is sent as null: .*nested deeper than")
            metrics = await scrape(agent)
            assert metrics.value(CONVERSION_ERRORS, key=key) == 1
            assert metrics.total(CONVERSION_ERRORS) == 1

            # A new subscriber's snapshot has the key, as null: no hole.
            second = StreamClient(agent, channel, await register(agent, channel), name="second").start()
            snapshot = await second.wait_snapshot()
            held = {s.key: s for s in snapshot.settings}
            assert (held[key].value, held[key].source) == (NULL, "agent-runtime")
            await wait_metrics(agent, lambda m: m.value(CONVERSION_ERRORS, key=key) == 2, "a second count")

            # Everything else equals the core's (its Settings API shows the value as text).
            core = await api.view()
            assert core.settings[key] == (TOO_DEEP, "agent-runtime", False)
            del core.settings[key]
            for client in (first, second):
                assert client.view.pop(key) == (None, "agent-runtime")
                assert view_mismatches(client.view, core) == []
        finally:
            await first.cancel()
            if second is not None:
                await second.cancel()


async def test_set_settings_refuses_text_that_is_not_utf8_and_list_settings_still_works(
    agent: AgentProcess,
) -> None:
    key = "custom.surrogate"
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        before = await api.view()
        # Valid UTF-8 on the wire: the YAML escape makes the lone surrogate in the core.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await api.set({key: '"\\ud800"'})
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"'{key}'" in (err.value.details() or "") and "U+D800" in (err.value.details() or "")
        after = await api.view()
        assert key not in after.settings and after.sequence_id == before.sequence_id


async def test_text_that_is_not_utf8_in_the_file_is_sent_as_null_and_shown_escaped(
    start_agent: Callable[..., AgentProcess],
) -> None:
    key = "custom.surrogate"
    agent = start_agent({key: "\ud800"})  # written as the YAML escape "\uD800"
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        client = StreamClient(agent, channel, await register(agent, channel)).start()
        try:
            snapshot = await client.wait_snapshot()
            held = {s.key: s for s in snapshot.settings}
            assert (held[key].value, held[key].source) == (NULL, "file")
            after = await api.set({"log_level": "warn"})
            await client.wait_sequence_id(after)
            assert client.view["log_level"] == ("warn", "agent-runtime")
            assert client.error is None and not client.violations
            agent.wait_for_log(rf"config stream: setting '{key}' is sent as null: .*not valid UTF-8")
            metrics = await scrape(agent)
            assert metrics.value(CONVERSION_ERRORS, key=key) == 1
            # The core's Settings API shows it escaped, and the whole list still answers.
            core = await api.view()
            assert core.settings[key] == ("\\ud800", "file", False)
            assert core.settings["log_level"] == ("warn", "agent-runtime", False)
        finally:
            await client.cancel()
