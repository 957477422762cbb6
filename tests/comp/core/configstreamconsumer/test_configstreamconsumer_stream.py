"""The consumer against a scripted core agent (real grpc.aio server, real mTLS): registration,
snapshot and updates, ordering rules, resync, re-registration and reconnection."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer.def_ import (
    BackoffPolicy,
    ChangeEvent,
    Component,
    ConsumerState,
    NotReadyError,
)
from comp.core.ipc.mock import MockIpc
from pkg.config.sources import Source
from tests.support import wire
from tests.support.fake_core import FakeCore
from tests.support.polling import eventually

Core = Any
Make = Any
WAIT = 10.0


async def _ready(make: Make, core: Core, settings: dict[str, Any], seq: int = 5, **kw: Any) -> Any:
    """A consumer that has applied a snapshot of ``settings``; returns (built, stream)."""
    built = await make(core.address, **kw)
    stream = await core.next_stream()
    stream.push(wire.snapshot(seq, settings))
    await built.consumer.wait_ready(WAIT)
    return built, stream


async def test_registers_streams_with_session_and_token_and_becomes_ready(
    core: Core, make_consumer: Make, ipc: MockIpc
) -> None:
    built = await make_consumer(core.address)
    consumer = built.consumer
    assert isinstance(consumer, Component)
    stream = await core.next_stream()
    [registration] = core.registrations
    assert (registration.pid, registration.flavor, registration.display_name) == (
        str(os.getpid()),
        "test-flavor",
        "Test Consumer",
    )
    assert stream.session_id in core.sessions
    assert stream.metadata["authorization"] == f"Bearer {ipc.token}"
    assert stream.name == "test-consumer"
    state_before_snapshot: ConsumerState = consumer.state  # a local: mypy keeps narrowings past awaits
    assert state_before_snapshot == ConsumerState.CONNECTING
    stream.push(wire.snapshot(7, {"log_level": "info", "cmd_port": 5001, "tags": ["a"]}))
    await consumer.wait_ready(WAIT)
    assert consumer.state == ConsumerState.READY
    assert consumer.sequence_id == 7
    reader = consumer.reader()
    assert reader.get_string("log_level") == "info"
    assert reader.get_int("cmd_port") == 5001
    assert reader.get_string_list("tags") == ["a"]
    assert reader.get_source("log_level") == Source.FILE
    t = built.telemetry
    assert t.histogram_count("configstream_consumer.time_to_first_snapshot_seconds") == 1
    assert t.value("configstream_consumer.last_sequence_id") == 7
    assert t.value("configstream_consumer.state") == 2
    assert t.value("configstream_consumer.registrations") == 1


async def test_updates_are_applied_in_order_and_reach_subscribers(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"log_level": "info", "site": "a", "hostname": "h"})
    consumer = built.consumer
    everything = consumer.subscribe()
    level = consumer.subscribe(keys=["log_level"])
    stream.push(
        wire.update(6, "log_level", "debug"),
        wire.update(7, "api_key", "secret"),
        wire.update(8, "log_level", "info", source="file", unset_source="agent-runtime"),  # fell back
        wire.update(9, "hostname", None, source="", unset_source="file"),  # nothing left: removed
    )
    got = [await asyncio.wait_for(anext(everything), WAIT) for _ in range(4)]
    assert got == [
        ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME),
        ChangeEvent("api_key", None, "secret", Source.AGENT_RUNTIME),
        ChangeEvent("log_level", "debug", "info", Source.FILE),
        ChangeEvent("hostname", "h", None, None),
    ]
    assert [await asyncio.wait_for(anext(level), WAIT) for _ in range(2)] == [got[0], got[2]]
    reader = consumer.reader()
    assert consumer.sequence_id == 9
    assert reader.get_source("hostname") is None and "hostname" not in reader.all_settings()
    assert reader.get_string("api_key") == "secret"
    assert built.telemetry.value("configstream_consumer.updates") == 4
    assert built.telemetry.value("configstream_consumer.last_sequence_id") == 9


async def test_stale_updates_are_dropped_and_counted(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1})
    consumer = built.consumer
    stream.push(wire.update(5, "a", 99), wire.update(3, "a", 98), wire.update(6, "a", 2))
    await eventually(lambda: consumer.sequence_id == 6, "update 6 applied")
    assert consumer.reader().get_int("a") == 2
    assert consumer.stats.stale_events_dropped == 2
    assert built.telemetry.value("configstream_consumer.stale_events_dropped") == 2
    assert consumer.stats.gaps == 0 and len(core.registrations) == 1


async def test_a_gap_drops_the_stream_and_resyncs_reporting_what_changed(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready(make_consumer, core, {"a": 1, "b": 1})
    consumer = built.consumer
    sub = consumer.subscribe()
    first.push(wire.update(7, "a", 2))  # 6 is missing
    await asyncio.wait_for(first.ended.wait(), WAIT)
    second = await core.next_stream()
    assert second.session_id == first.session_id  # same session: no need to register again
    assert consumer.stats.gaps == 1 and consumer.stats.reconnects == 1
    assert "sequence gap: expected update 6, received 7" in (consumer.stats.last_error or "")
    assert consumer.reader().get_int("a") == 1  # the gapped update was not applied
    second.push(wire.snapshot(7, {"a": 2, "c": 3}))
    got = [await asyncio.wait_for(anext(sub), WAIT) for _ in range(3)]
    assert got == [
        ChangeEvent("a", 1, 2, Source.FILE),
        ChangeEvent("b", 1, None, None),
        ChangeEvent("c", None, 3, Source.FILE),
    ]
    assert consumer.state == ConsumerState.READY and consumer.sequence_id == 7
    assert built.telemetry.value("configstream_consumer.gaps") == 1


async def test_an_update_before_any_snapshot_is_a_gap(core: Core, make_consumer: Make) -> None:
    built = await make_consumer(core.address)
    first = await core.next_stream()
    first.push(wire.update(1, "a", 1))
    await asyncio.wait_for(first.ended.wait(), WAIT)
    second = await core.next_stream()
    second.push(wire.snapshot(1, {"a": 1}))
    await built.consumer.wait_ready(WAIT)
    assert built.consumer.stats.gaps == 1


async def test_a_snapshot_from_a_restarted_core_is_accepted_whatever_its_sequence_id(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready(make_consumer, core, {"a": 1}, seq=500)
    consumer = built.consumer
    sub = consumer.subscribe()
    first.abort(grpc.StatusCode.UNAVAILABLE, "core agent shutting down")
    second = await core.next_stream()
    assert consumer.reader().get_int("a") == 1  # last good view while reconnecting
    second.push(wire.snapshot(3, {"a": 2}), wire.update(4, "a", 3))
    assert await asyncio.wait_for(anext(sub), WAIT) == ChangeEvent("a", 1, 2, Source.FILE)
    assert await asyncio.wait_for(anext(sub), WAIT) == ChangeEvent("a", 2, 3, Source.AGENT_RUNTIME)
    assert consumer.sequence_id == 4


async def test_a_second_snapshot_on_the_same_stream_replaces_the_view(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1, "b": 2})
    sub = built.consumer.subscribe()
    stream.push(wire.snapshot(40, {"a": 1, "b": 3}))
    assert await asyncio.wait_for(anext(sub), WAIT) == ChangeEvent("b", 2, 3, Source.FILE)
    assert built.consumer.sequence_id == 40


SLOW_BACKOFF = BackoffPolicy(initial=60.0, cap=60.0, jitter=0.0)
"""A backoff no test waits out: a new stream within WAIT proves the consumer did not wait."""


async def test_the_session_is_registered_again_at_once_when_the_stream_is_refused(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready(make_consumer, core, {"a": 1}, backoff=SLOW_BACKOFF)
    core.sessions.clear()  # the core evicted the agent
    first.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{first.session_id}' not found")
    second = await core.next_stream()
    assert second.session_id != first.session_id
    assert len(core.registrations) == 2 and built.consumer.stats.registrations == 2
    assert "PERMISSION_DENIED" in (built.consumer.stats.last_error or "")
    assert built.consumer.stats.reconnect_delays == ()  # no backoff waited


async def test_after_an_outage_a_core_that_forgot_the_session_gets_a_registration_at_once(
    core: Core, make_consumer: Make
) -> None:
    """The outage grew the backoff; the refusal of the old session by the restarted core skips it."""
    built, stream = await _ready(make_consumer, core, {"a": 1}, rand=lambda: 0.0)
    consumer = built.consumer
    first_session = stream.session_id
    for attempt in range(3):
        if attempt == 2:
            core.sessions.clear()  # the core restarts: the next attempt's session is unknown
        stream.abort(grpc.StatusCode.UNAVAILABLE, "core agent down")
        if attempt < 2:
            stream = await core.next_stream()
            assert stream.session_id == first_session
    renewed = await core.next_stream()
    assert renewed.session_id != first_session and len(core.registrations) == 2
    assert consumer.stats.reconnect_delays == pytest.approx([0.02, 0.04, 0.08])  # none after the refusal
    renewed.push(wire.snapshot(1, {"a": 2}))
    await eventually(lambda: consumer.reader().get_int("a") == 2, "the new view")


async def test_a_session_refused_before_it_ever_worked_waits_for_the_backoff(
    core: Core, make_consumer: Make
) -> None:
    built = await make_consumer(core.address, rand=lambda: 0.0)
    first = await core.next_stream()
    core.sessions.clear()
    first.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{first.session_id}' not found")
    await core.next_stream()
    assert built.consumer.stats.reconnect_delays == pytest.approx([0.02])


async def test_the_session_is_refreshed_and_registered_again_at_once_when_the_refresh_is_refused(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready(make_consumer, core, {"a": 1}, refresh_interval=0.02, backoff=SLOW_BACKOFF)
    await eventually(lambda: first.session_id in core.refreshes, "a refresh of the session")
    core.sessions.clear()
    await asyncio.wait_for(first.ended.wait(), WAIT)  # the consumer dropped the stream of the lost session
    second = await core.next_stream()
    assert second.session_id != first.session_id
    assert "session refresh failed" in (built.consumer.stats.last_error or "")
    assert "NOT_FOUND" in (built.consumer.stats.last_error or "")


async def test_the_recommended_refresh_interval_is_used(core: Core, make_consumer: Make) -> None:
    core.refresh_secs = 1
    _built, stream = await _ready(make_consumer, core, {"a": 1})
    await eventually(lambda: stream.session_id in core.refreshes, "a refresh after about 1 s", timeout=5)


async def test_an_old_core_without_the_remote_agent_service_is_asked_through_agent_secure(
    ipc: MockIpc, make_consumer: Make
) -> None:
    old_core = FakeCore(ipc, serve_remote_agent_service=False)
    await old_core.start()
    try:
        built, stream = await _ready(make_consumer, old_core, {"a": 1}, refresh_interval=0.02)
        assert len(old_core.registrations) == 1
        await eventually(lambda: stream.session_id in old_core.refreshes, "a refresh via AgentSecure")
        assert built.consumer.state == ConsumerState.READY
    finally:
        await old_core.stop()


async def test_a_wrong_token_is_reported_and_retried(core: Core, make_consumer: Make) -> None:
    core.token = "0" * 64
    built = await make_consumer(core.address)
    with pytest.raises(NotReadyError) as err:
        await built.consumer.wait_ready(0.3)
    assert f"core agent at {core.address} answered UNAUTHENTICATED: invalid auth token" in str(err.value)
    await eventually(lambda: built.consumer.stats.reconnects >= 2, "retries")


async def test_wait_ready_without_a_core_agent_fails_at_its_timeout_naming_address_and_cause(
    free_address: str, make_consumer: Make
) -> None:
    built = await make_consumer(free_address)
    await eventually(lambda: built.consumer.stats.last_error is not None, "a first failure")
    with pytest.raises(NotReadyError) as err:
        await built.consumer.wait_ready(0.2)
    assert str(err.value).startswith(
        f"config stream not ready after 0.2s: cannot reach core agent at {free_address}: "
    )
    assert str(err.value).endswith("Connection refused")
    assert built.consumer.state in (ConsumerState.CONNECTING, ConsumerState.DISCONNECTED)


async def test_wait_ready_before_start_says_so(free_address: str, make_consumer: Make) -> None:
    built = await make_consumer(free_address, start=False)
    with pytest.raises(NotReadyError, match="not started"):
        await built.consumer.wait_ready(0.01)


async def test_missing_ipc_files_are_reported_and_retried(
    tmp_path: Any, free_address: str, make_consumer: Make
) -> None:
    built = await make_consumer(
        free_address,
        material=None,
        auth_token_file=tmp_path / "auth_token",
        cert_file=tmp_path / "ipc_cert.pem",
    )
    with pytest.raises(NotReadyError, match=r"auth token file .*auth_token does not exist"):
        await built.consumer.wait_ready(0.3)


async def test_reconnect_delays_grow_with_jitter_and_the_view_survives_the_outage(
    core: Core, make_consumer: Make
) -> None:
    draws = iter([0.0, 0.5, 1.0 - 1e-9] * 100)
    built, _stream = await _ready(make_consumer, core, {"a": 1}, rand=lambda: next(draws))
    consumer = built.consumer
    await core.stop()
    await eventually(lambda: len(consumer.stats.reconnect_delays) >= 4, "four failed attempts")
    assert consumer.state in (ConsumerState.DISCONNECTED, ConsumerState.CONNECTING)
    assert consumer.reader().get_int("a") == 1
    d = consumer.stats.reconnect_delays
    assert d[:4] == pytest.approx([0.02, 0.04 * 0.9, 0.08 * (1 - 0.2 * (1 - 1e-9)), 0.1])
    assert all(x <= 0.1 for x in d)
    assert built.telemetry.histogram_count("configstream_consumer.reconnect_delay_seconds") == len(d)
    assert built.telemetry.value("configstream_consumer.state") in (0, 1)
    await core.start()
    second = await core.next_stream()
    second.push(wire.snapshot(1, {"a": 2}))
    await eventually(lambda: consumer.state == ConsumerState.READY, "ready again")
    assert consumer.reader().get_int("a") == 2


async def test_a_stream_that_stayed_healthy_long_enough_resets_the_backoff(
    core: Core, make_consumer: Make
) -> None:
    now = [1000.0]
    built = await make_consumer(core.address, rand=lambda: 0.0, clock=lambda: now[0])
    consumer = built.consumer
    for _ in range(3):  # three failed attempts: 0.02, 0.04, 0.08
        stream = await core.next_stream()
        stream.abort(grpc.StatusCode.UNAVAILABLE, "not yet")
    stream = await core.next_stream()
    stream.push(wire.snapshot(1, {"a": 1}))
    await consumer.wait_ready(WAIT)
    stream.abort(grpc.StatusCode.UNAVAILABLE, "short-lived")  # healthy for 0 s: the curve goes on
    stream = await core.next_stream()
    stream.push(wire.snapshot(1, {"a": 1}))
    await eventually(lambda: consumer.state == ConsumerState.READY, "ready again")
    now[0] += 60.0  # FAST_BACKOFF.healthy_reset
    stream.abort(grpc.StatusCode.UNAVAILABLE, "after a healthy minute")
    await core.next_stream()
    assert consumer.stats.reconnect_delays == pytest.approx([0.02, 0.04, 0.08, 0.1, 0.02])


async def test_invalid_settings_are_skipped_and_counted(core: Core, make_consumer: Make) -> None:
    built = await make_consumer(core.address)
    stream = await core.next_stream()
    event = wire.snapshot(1, {"a": 1})
    event.snapshot.settings.add(key="", source="file")
    stream.push(event)
    await built.consumer.wait_ready(WAIT)
    assert built.consumer.reader().all_settings() == {"a": 1}
    assert built.consumer.stats.invalid_settings == 1


async def test_stop_ends_subscriptions_and_is_idempotent(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1})
    sub = built.consumer.subscribe()
    await built.consumer.start()  # idempotent
    await built.consumer.stop()
    await built.consumer.stop()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(sub), WAIT)
    await asyncio.wait_for(stream.ended.wait(), WAIT)
    assert built.consumer.state == ConsumerState.DISCONNECTED
    assert built.consumer.reader().get_int("a") == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ipc_address": " "}, "ipc_address"),
        ({"material": None}, "auth_token_file and cert_file"),
        ({"display_name": ""}, "display_name"),
        ({"rpc_timeout": 0}, "rpc_timeout"),
        ({"refresh_interval": -1}, "refresh_interval"),
        ({"subscriber_queue_size": 0}, "queue size"),
        ({"resume_quiet_period": 0}, "resume_quiet_period"),
        ({"keepalive_time": 0.5}, "keepalive_time: 0.5, expected seconds from 1"),
        ({"keepalive_time": float("inf")}, "keepalive_time"),
        ({"keepalive_timeout": 0}, "keepalive_timeout"),
    ],
)
async def test_bad_params_abort_construction(make_consumer: Make, kwargs: dict[str, Any], match: str) -> None:
    address = kwargs.pop("ipc_address", "127.0.0.1:1")
    with pytest.raises(ValueError, match=match):
        await make_consumer(address, start=False, **kwargs)
