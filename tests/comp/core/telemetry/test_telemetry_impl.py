"""The telemetry component: a real Prometheus endpoint on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from comp.core.config import def_ as config_def
from comp.core.config.mock import MockConfig, new_mock
from comp.core.telemetry.container import TelemetryContainer
from comp.core.telemetry.def_ import Component
from comp.core.telemetry.impl import Requires, Telemetry, new_component
from pkg.config.errors import ConfigValueError
from pkg.util.lifecycle import Lifecycle, LifecycleError


def _build(config: config_def.Component) -> tuple[Lifecycle, Telemetry]:
    lifecycle = Lifecycle(start_timeout=10, stop_timeout=10)
    provides = new_component(Requires(lifecycle=lifecycle, config=config))
    return lifecycle, cast(Telemetry, provides.comp)


def _config(settings: dict[str, Any]) -> MockConfig:
    """A config that also holds ports the schema refuses (the component must refuse them itself)."""
    return new_mock(settings, unchecked=["telemetry.port"])


def _enabled(port: int = 0) -> MockConfig:
    return _config({"telemetry.enabled": True, "telemetry.port": port})


async def _get(url: str) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(fetch)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _connection_refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
async def started() -> AsyncIterator[Telemetry]:
    lifecycle, telemetry = _build(_enabled())
    await lifecycle.start()
    try:
        yield telemetry
    finally:
        await lifecycle.stop()


async def test_scrape_shows_counter_gauge_and_histogram(started: Telemetry) -> None:
    meter = started.meter("remote_agent_registry")
    meter.create_counter("remote_agent_registry.registered_error").add(2, {"reason": "blank name"})
    meter.create_gauge("remote_agent_registry.registered").set(3)
    meter.create_up_down_counter("configstream.subscribers").add(1)
    duration = meter.create_histogram(
        "remote_agent_registry.action_duration_seconds",
        unit="s",
        explicit_bucket_boundaries_advisory=[0.01, 0.1, 1.0],
    )
    duration.record(0.05, {"action": "register"})
    duration.record(0.5, {"action": "register"})

    assert started.port is not None and started.port > 0
    assert started.url == f"http://127.0.0.1:{started.port}/metrics"
    status, text = await _get(started.url)

    assert status == 200
    samples = _samples(text)
    register, blank = ("action", "register"), ("reason", "blank name")
    assert samples[("remote_agent_registry_registered_error_total", frozenset({blank}))] == 2
    assert samples[("remote_agent_registry_registered", frozenset())] == 3
    assert samples[("configstream_subscribers", frozenset())] == 1
    assert samples[("remote_agent_registry_action_duration_seconds_count", frozenset({register}))] == 2
    assert samples[("remote_agent_registry_action_duration_seconds_sum", frozenset({register}))] == 0.55
    bucket = "remote_agent_registry_action_duration_seconds_bucket"
    assert samples[(bucket, frozenset({register, ("le", "0.1")}))] == 1
    assert samples[(bucket, frozenset({register, ("le", "+Inf")}))] == 2
    assert "target_info" not in text and "otel_scope" not in text


async def test_repeated_scrapes_are_cumulative(started: Telemetry) -> None:
    counter = started.meter("configstream").create_counter("configstream.updates_sent")
    assert started.url is not None
    counter.add(1)
    first = _samples((await _get(started.url))[1])
    counter.add(4)
    second = _samples((await _get(started.url))[1])

    assert first[("configstream_updates_sent_total", frozenset())] == 1
    assert second[("configstream_updates_sent_total", frozenset())] == 5


async def test_other_paths_are_not_found(started: Telemetry) -> None:
    assert started.port is not None
    status, body = await _get(f"http://127.0.0.1:{started.port}/")
    assert status == 404
    assert "/metrics" in body


async def test_stop_frees_the_port() -> None:
    lifecycle, telemetry = _build(_enabled())
    await lifecycle.start()
    port = telemetry.port
    assert port is not None and telemetry.url is not None
    assert (await _get(telemetry.url))[0] == 200
    await lifecycle.stop()

    assert telemetry.port is None and telemetry.url is None
    assert _connection_refused(port)
    # The same fixed port can be served again right away.
    lifecycle, again = _build(_enabled(port))
    await lifecycle.start()
    try:
        assert again.port == port
        assert (await _get(f"http://127.0.0.1:{port}/metrics"))[0] == 200
    finally:
        await lifecycle.stop()


async def test_disabled_opens_no_port_and_meters_still_work() -> None:
    with socket.socket() as grab:
        grab.bind(("127.0.0.1", 0))
        port = grab.getsockname()[1]
    lifecycle, telemetry = _build(_config({"telemetry.enabled": False, "telemetry.port": port}))
    await lifecycle.start()
    try:
        telemetry.meter("configstream").create_counter("configstream.snapshots_sent").add(1)
        telemetry.meter("configstream").create_histogram("configstream.lag").record(2.0)

        assert not telemetry.enabled
        assert telemetry.port is None and telemetry.url is None
        assert _connection_refused(port)
    finally:
        await lifecycle.stop()


async def test_two_instances_in_one_process_do_not_collide() -> None:
    first_lc, first = _build(_enabled())
    second_lc, second = _build(_enabled())
    await first_lc.start()
    await second_lc.start()
    try:
        first.meter("configstream").create_counter("configstream.snapshots_sent").add(1)
        second.meter("configstream").create_counter("configstream.snapshots_sent").add(7)
        assert first.url is not None and second.url is not None and first.port != second.port

        first_samples = _samples((await _get(first.url))[1])
        second_samples = _samples((await _get(second.url))[1])
    finally:
        await second_lc.stop()
        await first_lc.stop()

    assert first_samples[("configstream_snapshots_sent_total", frozenset())] == 1
    assert second_samples[("configstream_snapshots_sent_total", frozenset())] == 7
    assert b"configstream_snapshots_sent" not in generate_latest(REGISTRY)


async def test_port_in_use_fails_start_naming_the_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        lifecycle, telemetry = _build(_enabled(port))

        with pytest.raises(LifecycleError, match=f"127\\.0\\.0\\.1:{port}"):
            await lifecycle.start()

    assert telemetry.port is None


@pytest.mark.parametrize("port", [-1, 65536])
def test_invalid_port_is_refused_at_construction(port: int) -> None:
    with pytest.raises(ConfigValueError, match=r"telemetry\.port.*" + str(port)):
        _build(_enabled(port))


async def test_container_builds_the_component_and_registers_its_hook() -> None:
    lifecycle = Lifecycle()
    container = TelemetryContainer(lifecycle=lifecycle, config=_enabled())

    telemetry = container.component()

    assert isinstance(telemetry, Telemetry)
    assert isinstance(telemetry, Component)
    assert container.component() is telemetry
    assert lifecycle.hook_names == ["telemetry"]
