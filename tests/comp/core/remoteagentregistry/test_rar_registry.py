"""The remote agent registry: sessions, refreshes, idle eviction on a fake clock, telemetry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from comp.core.config.mock import new_mock
from comp.core.remoteagentregistry.container import RemoteAgentRegistryContainer
from comp.core.remoteagentregistry.def_ import (
    Component,
    InvalidRegistrationError,
    Params,
    RegistryDisabledError,
    RemoteAgent,
)
from comp.core.remoteagentregistry.impl import Requires, new_component
from comp.core.remoteagentregistry.impl.registry import RemoteAgentRegistry
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.telemetry.def_ import SECONDS_BUCKETS
from comp.core.telemetry.mock import MockTelemetry
from pkg.config import keys
from pkg.config.durations import parse_duration
from pkg.config.errors import ConfigValueError
from pkg.config.reader import MissingSettingError
from pkg.config.schema import Schema, declared_default
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle

_EVICTION_TASK = "remote agent registry eviction"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Setup:
    def __init__(
        self,
        check_interval: float = 1.0,
        settings: dict[str, Any] | None = None,
        schema: Schema | None = None,
    ) -> None:
        self.config = new_mock(settings, schema=schema)
        self.clock = _Clock()
        self.telemetry = MockTelemetry()
        self.lifecycle = Lifecycle()
        provides = new_component(
            Requires(
                self.lifecycle,
                self.config,
                self.telemetry,
                params=Params(clock=self.clock, check_interval=check_interval),
            )
        )
        assert isinstance(provides.comp, RemoteAgentRegistry)
        self.registry: RemoteAgentRegistry = provides.comp

    def metric(self, name: str, **attributes: str) -> float | None:
        return self.telemetry.value(f"remote_agent_registry.{name}", **attributes)

    def durations(self, action: str) -> int | None:
        return self.telemetry.histogram_count("remote_agent_registry.action_duration_seconds", action=action)


def test_register_returns_a_uuid4_session_and_the_recommended_interval() -> None:
    s = _Setup(settings={"remote_agent.registry.recommended_refresh_interval": "7"})
    session_id, refresh_secs = s.registry.register(
        "42", "system-probe", " System Probe ", "unix:///x", ("a",)
    )
    assert uuid.UUID(session_id).version == 4
    assert refresh_secs == 7
    assert s.registry.get(session_id) == RemoteAgent(
        session_id, "42", "system-probe", "System Probe", "unix:///x", ("a",), 1000.0, 1000.0
    )
    assert s.registry.list() == [s.registry.get(session_id)]
    assert s.metric("registered") == 1
    assert s.durations("register") == 1


def test_counters_are_exported_at_zero_before_their_first_event() -> None:
    s = _Setup()
    for name in ("registered_error", "updated", "updated_error", "evicted"):
        assert s.metric(name) == 0, name
    assert s.metric("action_error", action="register") == 0
    assert s.metric("action_error", action="refresh") == 0
    assert s.metric("registered") == 0


def test_action_durations_have_buckets_in_seconds() -> None:
    s = _Setup()
    s.registry.register("42", "system-probe", "System Probe")
    boundaries = s.telemetry.histogram_boundaries(
        "remote_agent_registry.action_duration_seconds", action="register"
    )
    assert boundaries == SECONDS_BUCKETS
    assert boundaries[0] == 0.0001 and boundaries[-1] == 10.0  # a loopback call takes well under 5 ms


def test_every_registration_gets_its_own_session() -> None:
    s = _Setup()
    ids = {s.registry.register("1", "f", "same name")[0] for _ in range(20)}
    assert len(ids) == 20
    assert s.metric("registered") == 20


@pytest.mark.parametrize(
    ("configured", "expected"), [("10s", 10), ("1s", 1), ("300ms", 1), ("2m", 120), (90, 90)]
)
def test_refresh_interval_is_told_in_seconds(configured: Any, expected: int) -> None:
    s = _Setup()
    s.config.set("remote_agent.registry.recommended_refresh_interval", configured, Source.AGENT_RUNTIME)
    assert s.registry.register("1", "f", "n")[1] == expected


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_blank_display_name_is_refused_and_counted(name: str) -> None:
    s = _Setup()
    with pytest.raises(InvalidRegistrationError, match="display_name"):
        s.registry.register("1", "flavor", name)
    assert s.registry.list() == []
    assert s.metric("registered_error") == 1
    assert s.metric("action_error", action="register") == 1
    assert s.metric("registered") == 0


def test_refresh_marks_the_session_seen_now() -> None:
    s = _Setup()
    session_id, _ = s.registry.register("1", "f", "n")
    s.clock.now += 12.5
    assert s.registry.refresh(session_id) is True
    agent = s.registry.get(session_id)
    assert agent is not None
    assert (agent.registered_at, agent.last_seen) == (1000.0, 1012.5)
    assert s.metric("updated") == 1
    assert s.metric("updated_error") == 0
    assert s.durations("refresh") == 1


def test_refresh_of_an_unknown_session_is_false_and_counted() -> None:
    s = _Setup()
    assert s.registry.refresh("nope") is False
    assert s.registry.get("nope") is None
    assert s.metric("updated_error") == 1
    assert s.metric("action_error", action="refresh") == 1
    assert s.metric("updated") == 0


def test_idle_agents_are_evicted_and_callbacks_told() -> None:
    s = _Setup()
    evicted: list[str] = []
    s.registry.on_evict(evicted.append)
    idle, _ = s.registry.register("1", "f", "idle")
    alive, _ = s.registry.register("2", "f", "alive")
    s.clock.now += 20
    s.registry.refresh(alive)
    s.clock.now += 10
    assert s.registry.evict_idle() == []  # exactly the timeout is not yet idle
    s.clock.now += 0.5
    assert s.registry.evict_idle() == [idle]
    assert evicted == [idle]
    assert [a.session_id for a in s.registry.list()] == [alive]
    assert s.registry.refresh(idle) is False
    assert s.metric("registered") == 1
    assert s.metric("evicted") == 1


def test_idle_timeout_is_read_at_every_check() -> None:
    s = _Setup()
    session_id, _ = s.registry.register("1", "f", "n")
    s.clock.now += 6
    assert s.registry.evict_idle() == []
    s.config.set("remote_agent.registry.idle_timeout", "5s", Source.AGENT_RUNTIME)
    assert s.registry.evict_idle() == [session_id]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (keys.REGISTRY_IDLE_TIMEOUT, 0),
        (keys.REGISTRY_IDLE_TIMEOUT, "-1s"),
        (keys.REGISTRY_REFRESH_INTERVAL, "0s"),
        (keys.REGISTRY_REFRESH_INTERVAL, f"{2**32}s"),
    ],
)
def test_timings_out_of_their_declared_bounds_are_refused_and_change_nothing(key: str, value: Any) -> None:
    s = _Setup()
    with pytest.raises(ConfigValueError, match=key.replace(".", r"\.")) as info:
        s.config.set(key, value, Source.AGENT_RUNTIME)
    assert "\n" not in str(info.value)
    session_id, refresh_secs = s.registry.register("1", "f", "n")
    assert refresh_secs == 10
    s.clock.now += 30
    assert s.registry.evict_idle() == []
    s.clock.now += 1
    assert s.registry.evict_idle() == [session_id]


def test_the_refresh_interval_told_is_whole_seconds_of_the_setting() -> None:
    s = _Setup(settings={keys.REGISTRY_REFRESH_INTERVAL: "2500ms"})
    assert s.registry.register("1", "f", "n")[1] == 2
    s.config.set(keys.REGISTRY_REFRESH_INTERVAL, f"{2**32 - 1}s", Source.AGENT_RUNTIME)
    assert s.registry.register("2", "f", "n")[1] == 2**32 - 1


def test_a_failing_callback_does_not_stop_the_others_and_unsubscribe_works() -> None:
    s = _Setup()
    told: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("boom")

    s.registry.on_evict(broken)
    unsubscribe = s.registry.on_evict(lambda sid: told.append("removed " + sid))
    s.registry.on_evict(told.append)
    unsubscribe()
    unsubscribe()  # idempotent
    session_id, _ = s.registry.register("1", "f", "n")
    s.clock.now += 31
    assert s.registry.evict_idle() == [session_id]
    assert told == [session_id]


async def test_the_lifecycle_runs_periodic_eviction_until_stopped() -> None:
    s = _Setup(check_interval=0.01)
    evicted: asyncio.Queue[str] = asyncio.Queue()
    s.registry.on_evict(evicted.put_nowait)
    await s.lifecycle.start()
    try:
        session_id, _ = s.registry.register("1", "f", "n")
        s.clock.now += 31
        assert await asyncio.wait_for(evicted.get(), timeout=5) == session_id
    finally:
        await s.lifecycle.stop()
    assert _EVICTION_TASK not in {t.get_name() for t in asyncio.all_tasks()}


async def test_periodic_eviction_survives_a_failing_check(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _Setup(check_interval=0.01)
    session_id, _ = s.registry.register("1", "f", "n")
    s.clock.now += 31
    real_get_duration = s.config.get_duration
    failed = asyncio.Event()

    def failing_get_duration(key: str) -> timedelta:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("unexpected failure")
        return real_get_duration(key)

    monkeypatch.setattr(s.config, "get_duration", failing_get_duration)
    evicted: asyncio.Queue[str] = asyncio.Queue()
    s.registry.on_evict(evicted.put_nowait)
    await s.lifecycle.start()
    try:
        await asyncio.wait_for(failed.wait(), timeout=5)
        assert await asyncio.wait_for(evicted.get(), timeout=5) == session_id
    finally:
        await s.lifecycle.stop()


async def test_disabled_registry_refuses_everything_and_runs_no_task() -> None:
    s = _Setup(settings={"remote_agent.registry.enabled": False})
    assert s.registry.enabled is False
    with pytest.raises(RegistryDisabledError, match="remote agent registry not enabled"):
        s.registry.register("1", "f", "n")
    with pytest.raises(RegistryDisabledError):
        s.registry.refresh("x")
    assert s.metric("registered_error") == 1
    assert s.metric("updated_error") == 1
    await s.lifecycle.start()
    try:
        assert _EVICTION_TASK not in {t.get_name() for t in asyncio.all_tasks()}
    finally:
        await s.lifecycle.stop()


def test_unset_keys_use_the_declared_defaults() -> None:
    s = _Setup()
    assert s.registry.enabled is declared_default(keys.REGISTRY_ENABLED) is True
    session_id, refresh_secs = s.registry.register("1", "f", "n")
    assert (
        refresh_secs == parse_duration(declared_default(keys.REGISTRY_REFRESH_INTERVAL)).total_seconds() == 10
    )
    idle = parse_duration(declared_default(keys.REGISTRY_IDLE_TIMEOUT)).total_seconds()
    s.clock.now += idle
    assert s.registry.evict_idle() == []
    s.clock.now += 1
    assert s.registry.evict_idle() == [session_id]


def test_a_config_without_the_registry_keys_is_refused_naming_the_key() -> None:
    with pytest.raises(MissingSettingError, match=r"remote_agent\.registry\.enabled"):
        _Setup(schema=Schema())


def test_check_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"check_interval: 0, expected seconds > 0"):
        _Setup(check_interval=0)


def test_container_provides_the_component_and_its_grpc_service() -> None:
    container = RemoteAgentRegistryContainer(
        lifecycle=Lifecycle(), config=new_mock(), telemetry=MockTelemetry()
    )
    registry = container.component()
    assert isinstance(registry, Component)
    assert container.component() is registry
    assert "datadog.remoteagent.v1.RemoteAgent" in container.grpc_service().names


def test_mock_registers_refreshes_and_evicts_by_hand() -> None:
    mock = MockRemoteAgentRegistry(refresh_interval_secs=3)
    assert isinstance(mock, Component)
    evicted: list[str] = []
    mock.on_evict(evicted.append)
    session_id, secs = mock.register("1", "f", "n")
    assert secs == 3
    assert mock.refresh(session_id) and mock.refreshes == {session_id: 1}
    with pytest.raises(InvalidRegistrationError):
        mock.register("1", "f", " ")
    mock.add_session("fixed")
    assert mock.evict("fixed") is True
    assert mock.evict("fixed") is False
    assert mock.evict_all() == [session_id]
    assert evicted == ["fixed", session_id]
    assert mock.list() == []
    disabled = MockRemoteAgentRegistry(enabled=False)
    with pytest.raises(RegistryDisabledError):
        disabled.register("1", "f", "n")
