"""The producer's counts, as a Prometheus scrape and the in-memory reader see them."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from comp.core.config.mock import new_mock
from comp.core.configstream.impl import Requires, new_component
from comp.core.configstream.impl.metrics import stream_metrics
from comp.core.telemetry.impl import Telemetry
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle
from tests.comp.core.configstream.configstream_helpers import counter, take

Families = dict[str, tuple[str, dict[frozenset[tuple[str, str]], float]]]
"""Metric family name -> (type, labels -> value of its main sample)."""


async def _scrape(url: str) -> Families:
    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    families: Families = {}
    for family in text_string_to_metric_families(await asyncio.to_thread(fetch)):
        samples = {
            frozenset(s.labels.items()): s.value for s in family.samples if not s.name.endswith("_created")
        }
        families[family.name] = (family.type, samples)
    return families


async def test_the_scrape_shows_the_counts_under_the_names_and_types_of_before() -> None:
    telemetry = Telemetry(enabled=True, port=0)
    config = new_mock({"log_level": "info"})
    lifecycle = Lifecycle()
    producer = new_component(Requires(lifecycle, config, telemetry)).comp
    await telemetry.start()
    await lifecycle.start()
    try:
        events = producer.subscribe("agent").events()
        await take(events)
        config.set("log_level", "debug", Source.AGENT_RUNTIME)
        config.set("custom.text", "bad \ud800 text", Source.AGENT_RUNTIME)  # sent as null, counted
        await take(events, 2)
        assert telemetry.url is not None
        families = await _scrape(telemetry.url)
    finally:
        await lifecycle.stop()
        await telemetry.stop()

    # Prometheus family names drop the _total suffix of counters' samples (configstream_updates_sent_total).
    assert families["configstream_subscribers"] == ("gauge", {frozenset(): 1})
    assert families["configstream_snapshots_sent"] == ("counter", {frozenset(): 1})
    assert families["configstream_updates_sent"] == ("counter", {frozenset(): 2})
    assert families["configstream_snapshot_builds"] == ("counter", {frozenset(): 1})
    assert families["configstream_conversion_errors"] == (
        "counter",
        {frozenset({("key", "custom.text")}): 1},
    )
    # Never bumped: exported at 0 (for every known cause), so that increase() sees the first event.
    assert families["configstream_dropped_updates"] == ("counter", {frozenset(): 0})
    assert families["configstream_resyncs"] == (
        "counter",
        {frozenset({("cause", cause)}): 0 for cause in ("gap", "fell_behind", "oversize")},
    )
    assert families["configstream_resume_refused"] == (
        "counter",
        {frozenset({("cause", cause)}): 0 for cause in ("epoch", "history", "future")},
    )


async def test_producers_on_one_meter_add_up_their_counts() -> None:
    telemetry = MockTelemetry()
    lifecycles = [Lifecycle(), Lifecycle()]
    configs = [new_mock({"log_level": "info"}), new_mock({"log_level": "warn"})]
    producers = [
        new_component(Requires(lc, c, telemetry)).comp for lc, c in zip(lifecycles, configs, strict=True)
    ]
    for lifecycle in lifecycles:
        await lifecycle.start()
    try:
        for producer in producers:
            await take(producer.subscribe("agent").events())
        assert counter(telemetry, "snapshots_sent") == 2
        assert counter(telemetry, "snapshot_builds") == 2
    finally:
        for lifecycle in lifecycles:
            await lifecycle.stop()


def test_one_set_of_counts_per_meter() -> None:
    first, second = MockTelemetry(), MockTelemetry()
    metrics = stream_metrics(first.meter("configstream"))
    assert stream_metrics(first.meter("configstream")) is metrics
    assert stream_metrics(second.meter("configstream")) is not metrics


@pytest.mark.parametrize(
    ("bump", "name", "attributes"),
    [
        (lambda m: setattr(m, "lagging", m.lagging + 1), "lagging", {}),
        (lambda m: m.add_resync("gap"), "resyncs", {"cause": "gap"}),
        (lambda m: m.add_resume_refused("epoch"), "resume_refused", {"cause": "epoch"}),
    ],
)
def test_a_count_is_read_when_the_metrics_are_collected(
    bump: Callable[..., None], name: str, attributes: dict[str, str]
) -> None:
    telemetry = MockTelemetry()
    metrics = stream_metrics(telemetry.meter("configstream"))
    assert telemetry.value(f"configstream.{name}", **attributes) == 0
    bump(metrics)
    assert telemetry.value(f"configstream.{name}", **attributes) == 1
    bump(metrics)
    bump(metrics)
    assert telemetry.value(f"configstream.{name}", **attributes) == 3
