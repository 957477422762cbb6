"""Text that UTF-8 cannot encode (lone surrogates): refused by SetSettings, shown escaped when another
source holds it, over the real IPC gRPC server with real mTLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from comp.api.grpcserver import def_ as grpcserver_def
from comp.api.grpcserver import impl as grpcserver_impl
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import MockIpc
from comp.core.ipc.mock import new_mock as new_ipc_mock
from comp.core.settings.impl import Requires, new_component
from comp.core.settings.impl.runtime_settings import find_unencodable_text
from comp.core.settings.impl.service import displayable_text
from pkg.config.model import LayeredConfig
from pkg.config.schema import default_schema
from pkg.config.sources import Source
from pkg.ipc import secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2 as pb
from pkg.proto.gen.configstream.settings.v1 import settings_pb2_grpc
from pkg.protoconv.values import from_value
from pkg.util.lifecycle import Lifecycle


@dataclass
class Served:
    config: LayeredConfig
    stub: settings_pb2_grpc.SettingsAsyncStub
    metadata: tuple[tuple[str, str], ...]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    schema = default_schema()
    schema.declare_open_group("custom")
    config = new_config_mock({"cmd_host": "127.0.0.1", "cmd_port": 0, "hostname": "host-a"}, schema=schema)
    ipc: MockIpc = new_ipc_mock()
    lifecycle = Lifecycle()
    settings = new_component(Requires(lifecycle, config))
    server = grpcserver_impl.new_component(
        grpcserver_impl.Requires(
            lifecycle, config, ipc, [settings.grpc_service], params=grpcserver_def.Params(stop_grace=0.1)
        )
    ).comp
    await lifecycle.start()
    try:
        async with secure_channel(server.address, ipc.client_credentials()) as channel:
            yield Served(config, settings_pb2_grpc.SettingsStub(channel), ipc.auth_metadata())
    finally:
        await lifecycle.stop()


@pytest.mark.parametrize(
    ("text", "code_point"),
    [('"\\ud800"', "U+D800"), ('[ok, "a\\udfffb"]', "U+DFFF"), ('{"k\\udc80": 1}', "U+DC80")],
)
async def test_set_settings_refuses_text_that_utf8_cannot_encode(
    served: Served, text: str, code_point: str
) -> None:
    config, stub, metadata = served.config, served.stub, served.metadata
    before = config.sequence_id
    # The request itself is valid UTF-8: the YAML escape makes the lone surrogate on the server.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SetSettings(
            pb.SetSettingsRequest(values={"hostname": "b", "custom.bad": text}), metadata=metadata
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details() or ""
    assert "'custom.bad'" in details and code_point in details and "UTF-8" in details
    assert config.sequence_id == before and config.get("hostname") == "host-a"  # all or nothing
    listing = await stub.ListSettings(pb.ListSettingsRequest(), metadata=metadata)
    assert listing.sequence_id == before


async def test_a_lone_surrogate_held_by_another_source_is_shown_escaped_and_the_list_still_works(
    served: Served,
) -> None:
    config, stub, metadata = served.config, served.stub, served.metadata
    # Environment variables with undecodable bytes, or a file's YAML escape, reach the config like this.
    config.set("custom.text", "bad \ud800 text", Source.ENVIRONMENT_VARIABLE)
    config.set("custom.nested", ["ok", {"k": "\udcff"}], Source.FILE)
    for _ in range(2):  # every call, not only the first
        listing = await stub.ListSettings(pb.ListSettingsRequest(), metadata=metadata)
        by_key = {s.key: s for s in listing.settings}
        assert from_value(by_key["custom.text"].value) == "bad \\ud800 text"
        assert by_key["custom.text"].source == "environment-variable"
        assert from_value(by_key["custom.nested"].value) == "['ok', {'k': '\\udcff'}]"
        assert from_value(by_key["hostname"].value) == "host-a"  # the rest of the list is intact
    reply = await stub.GetSetting(pb.GetSettingRequest(key="custom.text"), metadata=metadata)
    assert reply.found and from_value(reply.setting.value) == "bad \\ud800 text"
    reply = await stub.GetSetting(pb.GetSettingRequest(key="custom"), metadata=metadata)
    assert reply.found and "\\ud800" in from_value(reply.setting.value)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("plain", None),
        ("\u00e9\U0001f600", None),
        ("\ud800", "U+D800"),
        (["a", ("b", {"c": "x\udfff"})], "U+DFFF"),
        ({"\udc80": "v"}, "U+DC80"),
        ({1, "ok"}, None),
        (42, None),
    ],
)
def test_find_unencodable_text(value: object, found: str | None) -> None:
    assert find_unencodable_text(value) == found


def test_find_unencodable_text_stops_on_a_structure_that_contains_itself() -> None:
    looped: list[Any] = ["ok"]
    looped.append(looped)
    assert find_unencodable_text(looped) is None
    looped.append("\ud800")
    assert find_unencodable_text(looped) == "U+D800"


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain \u00e9", "plain \u00e9"),
        ("a\ud800b", "a\\ud800b"),
        (["\udfff"], "['\\udfff']"),
        (_Unprintable(), "<_Unprintable>"),
    ],
)
def test_displayable_text_can_always_be_encoded(value: object, shown: str) -> None:
    text = displayable_text(value)
    assert text == shown
    text.encode("utf-8")
