"""Bad input to SetSettings never degrades the agent: YAML bombs, deep nesting, oversized values, a
full config, a key both setting and group, restart-only keys. Over the real IPC gRPC server with
real mTLS: each refusal is a status with a one-line message, and nothing changes."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from comp.api.grpcserver import def_ as grpcserver_def
from comp.api.grpcserver import impl as grpcserver_impl
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import MockIpc
from comp.core.ipc.mock import new_mock as new_ipc_mock
from comp.core.settings.def_ import SettingsValueError
from comp.core.settings.impl import Requires, new_component
from comp.core.settings.impl.service import MAX_DETAILS, OFF_LOOP_CHARS
from pkg.config.limits import TOTAL_MAX_BYTES_KEY, VALUE_MAX_BYTES_KEY
from pkg.config.model import LayeredConfig
from pkg.config.safe_yaml import MAX_DEPTH
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source
from pkg.config.wire_size import setting_size, value_size
from pkg.ipc import secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2 as pb
from pkg.proto.gen.configstream.settings.v1 import settings_pb2_grpc
from pkg.util.lifecycle import Lifecycle

VALUE_MAX = 2048
TOTAL_MAX = 8192
BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [x,x,x,x,x,x,x,x,x]"] + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
)


@dataclass
class Served:
    config: LayeredConfig
    stub: settings_pb2_grpc.SettingsAsyncStub
    metadata: tuple[tuple[str, str], ...]

    async def set(self, values: Mapping[str, str]) -> int:
        reply = await self.stub.SetSettings(pb.SetSettingsRequest(values=values), metadata=self.metadata)
        return reply.sequence_id

    async def refused(self, values: Mapping[str, str], code: grpc.StatusCode) -> str:
        """The details of the refusal of ``values``, after checking that nothing changed."""
        before = (self.config.sequence_id, self.config.all_settings())
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await self.set(values)
        assert err.value.code() == code
        details = err.value.details() or ""
        assert "\n" not in details and len(details) <= MAX_DETAILS
        assert (self.config.sequence_id, self.config.all_settings()) == before
        listing = await self.stub.ListSettings(pb.ListSettingsRequest(), metadata=self.metadata)
        assert listing.sequence_id == before[0]
        return details


def _schema() -> Schema:
    schema = default_schema()
    schema.declare_open_group("custom", "test settings")
    return schema


async def serve(settings: Mapping[str, Any]) -> AsyncIterator[Served]:
    config = new_config_mock(
        {"cmd_host": "127.0.0.1", "cmd_port": 0, "hostname": "host-a", **settings}, schema=_schema()
    )
    ipc: MockIpc = new_ipc_mock()
    lifecycle = Lifecycle()
    component = new_component(Requires(lifecycle, config))
    server = grpcserver_impl.new_component(
        grpcserver_impl.Requires(
            lifecycle, config, ipc, [component.grpc_service], params=grpcserver_def.Params(stop_grace=0.1)
        )
    ).comp
    await lifecycle.start()
    try:
        async with secure_channel(server.address, ipc.client_credentials()) as channel:
            yield Served(config, settings_pb2_grpc.SettingsStub(channel), ipc.auth_metadata())
    finally:
        await lifecycle.stop()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async for item in serve({}):
        yield item


@pytest.fixture
async def small() -> AsyncIterator[Served]:
    """Limits small enough to cross in a test."""
    async for item in serve({VALUE_MAX_BYTES_KEY: VALUE_MAX, TOTAL_MAX_BYTES_KEY: TOTAL_MAX}):
        yield item


def text_of_setting_size(key: str, size: int) -> str:
    text = "x" * size
    while setting_size(key, Source.AGENT_RUNTIME.value, value_size(text)) > size:
        text = text[:-1]
    assert setting_size(key, Source.AGENT_RUNTIME.value, value_size(text)) == size
    return text


async def test_the_billion_laughs_is_invalid_argument(served: Served) -> None:
    assert len(BILLION_LAUGHS) < 400
    details = await served.refused(
        {"log_level": "debug", "custom.laughs": BILLION_LAUGHS}, grpc.StatusCode.INVALID_ARGUMENT
    )
    assert details == (
        "invalid value for 'custom.laughs': YAML anchors and aliases (&name, *name) are not accepted in a "
        "value; quote the text to keep it as a string"
    )


@pytest.mark.parametrize("text", ["&a [*a]", "&m {self: *m}", "[a, *undefined]"])
async def test_a_self_referencing_alias_is_invalid_argument_not_unknown(served: Served, text: str) -> None:
    details = await served.refused({"custom.loop": text}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("invalid value for 'custom.loop': YAML anchors and aliases")


@pytest.mark.parametrize(
    "text", ["[" * 10_000 + "]" * 10_000, "- " * 10_000 + "x", "{a: " * 2_000 + "1" + "}" * 2_000]
)
async def test_deep_nesting_is_invalid_argument(served: Served, text: str) -> None:
    details = await served.refused({"tags": text}, grpc.StatusCode.INVALID_ARGUMENT)
    assert (
        details
        == f"invalid value for 'tags': YAML nested deeper than {MAX_DEPTH} levels (MAX_DEPTH: {MAX_DEPTH})"
    )


async def test_a_text_over_value_max_bytes_is_refused_before_it_is_parsed(served: Served) -> None:
    limit = served.config.limits.value_max_bytes
    details = await served.refused({"custom.big": "x" * (limit + 1)}, grpc.StatusCode.INVALID_ARGUMENT)
    expected = f"the text is {limit + 1} bytes, over {VALUE_MAX_BYTES_KEY} ({limit})"
    assert details == f"invalid value for 'custom.big': {expected}"
    # A text of exactly the limit is read; its setting, with key and source, is then over the limit.
    details = await served.refused({"hostname": "é" * (limit // 2)}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("value of 'hostname' at agent-runtime is ")
    assert details.endswith(f"bytes serialized (key, source and value), over {VALUE_MAX_BYTES_KEY} ({limit})")


async def test_a_serialized_value_at_value_max_bytes_is_accepted_one_more_byte_is_not(small: Served) -> None:
    fits = text_of_setting_size("hostname", VALUE_MAX)
    sequence_id = await small.set({"hostname": fits})
    assert small.config.get("hostname") == fits and sequence_id == small.config.sequence_id
    details = await small.refused({"hostname": fits + "x"}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details == (
        f"value of 'hostname' at agent-runtime is {VALUE_MAX + 1} bytes serialized (key, source and value), "
        f"over {VALUE_MAX_BYTES_KEY} ({VALUE_MAX})"
    )
    # Numbers: short as text, 11 bytes each on the wire.
    numbers = "[" + ",".join(["1"] * 200) + "]"
    assert len(numbers) < VALUE_MAX
    details = await small.refused({"custom.numbers": numbers}, grpc.StatusCode.INVALID_ARGUMENT)
    assert VALUE_MAX_BYTES_KEY in details


async def test_a_change_that_would_cross_total_max_bytes_is_resource_exhausted(small: Served) -> None:
    config = small.config
    index = 0
    while TOTAL_MAX - config.total_bytes >= VALUE_MAX:
        key = f"custom.k{index}"
        await small.set({key: text_of_setting_size(key, VALUE_MAX)})
        index += 1
    room = TOTAL_MAX - config.total_bytes
    details = await small.refused({"custom.last": "x" * room}, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert details.startswith("setting 'custom.last' at agent-runtime would make the settings ")
    assert details.endswith(f"bytes serialized, over {TOTAL_MAX_BYTES_KEY} ({TOTAL_MAX})")
    await small.stub.UnsetSetting(pb.UnsetSettingRequest(key="custom.k0"), metadata=small.metadata)
    await small.set({"custom.last": "x" * room})
    assert config.total_bytes <= TOTAL_MAX


async def test_a_value_of_the_wrong_shape_is_invalid_argument(served: Served) -> None:
    for text in ("{a: b}", "a b, c"):  # a mapping; text, split into a list only from the environment
        details = await served.refused({"tags": text}, grpc.StatusCode.INVALID_ARGUMENT)
        assert details.startswith("invalid value for 'tags' (from agent-runtime): ")
        assert details.endswith("expected a list of strings")
    await served.set({"tags": "[a, b]"})
    assert served.config.get("tags") == ["a", "b"]


async def test_a_key_cannot_become_both_a_setting_and_a_group(served: Served) -> None:
    await served.set({"custom.x": "1"})
    details = await served.refused({"custom.x.y": "2"}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("cannot set 'custom.x.y' at agent-runtime: 'custom.x' is set at agent-runtime")
    details = await served.refused({"custom": "{x: {y: 2}}"}, grpc.StatusCode.INVALID_ARGUMENT)
    assert "'custom.x.y'" in details and "'custom.x'" in details
    await served.stub.UnsetSetting(pb.UnsetSettingRequest(key="custom.x"), metadata=served.metadata)
    await served.set({"custom.x.y": "2"})
    assert served.config.get("custom") == {"x": {"y": 2}}


async def test_a_limit_cannot_change_while_the_agent_runs(served: Served) -> None:
    details = await served.refused({VALUE_MAX_BYTES_KEY: "4096"}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith(f"{VALUE_MAX_BYTES_KEY!r} needs a restart: set it in the config file")


async def test_the_details_of_a_refusal_stay_short(served: Served) -> None:
    text = "[" + ",".join(["12345"] * 20_000) + "]"
    details = await served.refused({"logs_config.enabled": text}, grpc.StatusCode.INVALID_ARGUMENT)
    assert details.startswith("invalid value for 'logs_config.enabled' (from agent-runtime): ")
    assert details.endswith("...") and len(details) == MAX_DETAILS


async def test_a_big_valid_value_is_applied_off_the_event_loop(served: Served) -> None:
    items = [f"item-{i:06d}" for i in range(OFF_LOOP_CHARS // 10)]
    text = "[" + ", ".join(items) + "]"
    assert OFF_LOOP_CHARS < len(text) < served.config.limits.value_max_bytes
    sequence_id = await served.set({"custom.big": text, "log_level": "debug"})
    assert served.config.get("custom.big") == items and served.config.get("log_level") == "debug"
    assert sequence_id == served.config.sequence_id


def test_the_billion_laughs_costs_no_memory() -> None:
    config = new_config_mock(schema=_schema())
    settings = new_component(Requires(Lifecycle(), config)).comp
    tracemalloc.start()
    try:
        with pytest.raises(SettingsValueError, match="anchors and aliases"):
            settings.set_from_text({"custom.laughs": BILLION_LAUGHS})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024  # expanded, the value would hold 9**9 (387 million) strings
    assert config.get("custom") is None
