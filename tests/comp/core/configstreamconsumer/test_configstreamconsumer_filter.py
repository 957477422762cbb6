"""Key filters, consumer side, against a scripted core (real grpc.aio server, real mTLS): the filter in
every request (resumes included), a view of the matching keys only whatever the core sends, reads
outside the filter refused, lost events found through ``previous_sequence_id``, bad filters refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer import KeyNotStreamedError, connect_config_stream
from comp.core.configstreamconsumer.def_ import MAX_FILTER_NAMES, ChangeEvent, Params
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.configstreamconsumer.impl.streamfilter import StreamFilter, filter_names
from comp.core.configstreamconsumer.mock import MockConfigStream
from comp.core.configstreamconsumer.stream import config_stream_params
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.sources import Source
from pkg.ipc import ClientMaterial
from pkg.util.lifecycle import Lifecycle
from tests.support import wire
from tests.support.polling import eventually

Core = Any
Make = Any
WAIT = 10.0
RUNTIME = Source.AGENT_RUNTIME
FILTER = {"keys": ("log_level",), "prefixes": ("my_agent",)}
EVERYTHING = {
    "log_level": "info",
    "hostname": "h",
    "my_agent.port": 8125,
    "my_agentx": 1,
    "my_agent.a.b": "x",
}


async def _ready(make: Make, core: Core, seq: int = 5, **kw: Any) -> Any:
    """A filtered consumer that applied a snapshot of EVERYTHING (as a core ignoring the filter sends)."""
    kw = {**FILTER, **kw}
    built = await make(core.address, **kw)
    stream = await core.next_stream()
    stream.push(wire.snapshot(seq, EVERYTHING, epoch="e1"))
    await built.consumer.wait_ready(WAIT)
    return built, stream


async def test_the_filter_is_sent_in_canonical_form_and_again_on_resume(
    core: Core, make_consumer: Make
) -> None:
    built = await make_consumer(
        core.address, keys=("Log_Level", "remote_agent_registry.enabled", "log_level"), prefixes=("my_agent",)
    )
    stream = await core.next_stream()
    assert stream.key_filter == (("log_level", "remote_agent.registry.enabled"), ("my_agent",))
    stream.push(wire.snapshot(5, {"log_level": "info"}, epoch="e1"))
    await built.consumer.wait_ready(WAIT)
    stream.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
    again = await core.next_stream()
    assert again.resume_from == ("e1", 5)
    assert again.key_filter == stream.key_filter


async def test_the_view_holds_only_matching_keys_and_other_reads_fail(
    core: Core, make_consumer: Make
) -> None:
    built, _ = await _ready(make_consumer, core)
    reader = built.consumer.reader()
    assert reader.all_settings() == {"log_level": "info", "my_agent.port": 8125, "my_agent.a.b": "x"}
    assert reader.get_string("log_level") == "info"
    assert reader.get_int("my_agent.port") == 8125
    assert reader.get_string_map("my_agent") == {"port": 8125, "a": {"b": "x"}}
    assert reader.get_string("my_agent.missing", default="d") == "d"  # inside the filter: a real default
    reads: list[Callable[[], object]] = [
        lambda: reader.get_string("hostname", default="not used"),
        lambda: reader.get("my_agentx"),
        lambda: reader.get_source("hostname"),
        lambda: reader.is_set("hostname"),
    ]
    for read in reads:
        with pytest.raises(KeyNotStreamedError) as caught:
            read()
        assert "outside the config stream's filter (keys 'log_level'; prefixes 'my_agent')" in str(
            caught.value
        )
    with pytest.raises(KeyNotStreamedError, match="setting 'hostname' is outside"):
        reader.get("HOSTNAME")


async def test_updates_of_a_core_that_ignores_the_filter_are_filtered_here(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core)
    consumer = built.consumer
    changes = consumer.subscribe()
    stream.push(
        wire.update(6, "hostname", "other"),  # not ours: dropped, the id still counts
        wire.update(7, "my_agent.port", 9000),
        wire.batch(wire.update(8, "site", "x"), wire.update(9, "log_level", "debug")),
    )
    got = [await asyncio.wait_for(anext(changes), WAIT) for _ in range(2)]
    assert got == [
        ChangeEvent("my_agent.port", 8125, 9000, RUNTIME),
        ChangeEvent("log_level", "info", "debug", RUNTIME),
    ]
    assert consumer.sequence_id == 9
    assert consumer.stats.gaps == 0
    assert "hostname" not in consumer.reader().all_settings()


async def test_a_filtered_core_skips_ids_and_previous_sequence_id_chains_them(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core)
    consumer = built.consumer
    changes = consumer.subscribe()
    stream.push(wire.update(9, "log_level", "debug", previous=5))
    stream.push(wire.progress(12, epoch="e1"))
    stream.push(
        wire.batch(
            wire.update(15, "my_agent.port", 1, previous=12), wire.update(17, "my_agent.port", 2, previous=15)
        )
    )
    got = [(await asyncio.wait_for(anext(changes), WAIT)).new for _ in range(3)]
    assert got == ["debug", 1, 2]
    assert consumer.sequence_id == 17
    assert consumer.stats.gaps == 0


async def test_a_lost_event_of_a_filtered_stream_is_a_gap(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core)
    consumer = built.consumer
    stream.push(wire.update(9, "log_level", "debug", previous=5))
    await eventually(lambda: consumer.sequence_id == 9, "the first update applied")
    stream.push(wire.update(14, "log_level", "warn", previous=11))  # event 11 never arrived
    again = await core.next_stream()
    assert consumer.stats.gaps == 1
    assert "update 14 follows event 11 on the core's side, the last one received was 9" in (
        consumer.stats.last_error or ""
    )
    assert consumer.reader().get("log_level") == "debug"
    assert again.resume_from == ("", 0) and again.key_filter == (("log_level",), ("my_agent",))


async def test_an_unset_previous_id_is_accepted_only_for_the_next_id(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core)
    stream.push(wire.update(6, "log_level", "debug"), wire.update(8, "log_level", "warn"))
    await core.next_stream()
    assert built.consumer.stats.gaps == 1
    assert built.consumer.reader().get("log_level") == "debug"


async def test_a_filtered_resume_continues_from_the_resume_point(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core)
    consumer = built.consumer
    stream.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
    again = await core.next_stream()
    assert again.resume_from == ("e1", 5)
    again.send_headers(("configstream-epoch", "e1"), ("configstream-resume", "accepted"))
    again.push(wire.update(8, "my_agent.port", 7, previous=5))
    await eventually(lambda: consumer.sequence_id == 8, "the missed update applied")
    assert (consumer.stats.resumes, consumer.stats.gaps, consumer.reader().get("my_agent.port")) == (1, 0, 7)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"keys": ("log_level", "")}, r"filter keys\[1\]: '' is empty, expected a key name"),
        ({"prefixes": ("  ",)}, r"filter prefixes\[0\]: '  ' is empty"),
        ({"keys": ("a..b",)}, r"filter keys\[0\]: 'a..b' \(4 characters\), expected non-empty dot-separated"),
        (
            {"keys": ("k" * 300,)},
            r"\(300 characters\), expected non-empty dot-separated names of at most 256",
        ),
        (
            {"keys": tuple(f"k{i}" for i in range(MAX_FILTER_NAMES)), "prefixes": ("p",)},
            r"filter: 1025 keys and prefixes, the limit is 1024",
        ),
    ],
)
def test_bad_filters_are_refused_naming_the_name(
    material: ClientMaterial, kw: dict[str, Any], message: str
) -> None:
    lifecycle = Lifecycle()
    with pytest.raises(ValueError, match=message):
        new_component(
            Requires(lifecycle=lifecycle, telemetry=MockTelemetry(), params=Params(material=material, **kw))
        )
    assert lifecycle.hook_names == []


def test_a_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match="expected a list of names, not the string 'log_level'"):
        filter_names("keys", "log_level")
    with pytest.raises(TypeError, match="keys"):
        config_stream_params("agent", keys="log_level", environ={})


def test_the_facade_params_carry_the_filter(tmp_path: Any) -> None:
    params = config_stream_params(
        "agent", keys=["log_level"], prefixes=["My_Agent"], environ={"XDG_STATE_HOME": str(tmp_path)}
    )
    assert (params.keys, params.prefixes) == (("log_level",), ("my_agent",))


async def test_connect_config_stream_refuses_a_bad_filter_before_connecting() -> None:
    with pytest.raises(ValueError, match="filter prefixes"):
        async with connect_config_stream("agent", prefixes=[""], environ={}, ready_timeout=0.1):
            raise AssertionError("unreachable")


def test_stream_filter_matching() -> None:
    f = StreamFilter(("a.b",), ("apm_config",))
    assert [f.matches(k) for k in ("a.b", "a", "a.b.c", "apm_config", "apm_config.x", "apm_configx")] == [
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    assert StreamFilter().matches("anything") and not StreamFilter().active
    assert StreamFilter().to_wire() is None


async def test_the_mock_takes_the_same_filter() -> None:
    config = MockConfigStream({"log_level": "info", "hostname": "h"}, keys=["log_level"])
    assert config.all_settings() == {"log_level": "info"}
    with pytest.raises(KeyNotStreamedError, match="'hostname'"):
        config.get_string("hostname", default="x")
    assert config.set("hostname", "other") is None
