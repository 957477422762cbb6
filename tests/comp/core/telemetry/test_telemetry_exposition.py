"""One family per name in ``/metrics``: remote agents' series whose names are the core's own."""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.request
from collections import Counter
from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from comp.core.telemetry.impl import Telemetry
from comp.core.telemetry.impl.exposition import DroppedFamily, MergedFamilies, exposed_name, merge_families
from pkg.remoteagent.promtext import MergedMetrics

REMOTE_TEXT = """\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 9
# HELP process_max_fds_total A counter, where the core has a gauge without the suffix.
# TYPE process_max_fds_total counter
process_max_fds_total 3
# HELP my_agent_requests_total Requests.
# TYPE my_agent_requests_total counter
my_agent_requests_total{path="/x"} 4
"""


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


class _Remote(Collector):
    """What the remote agents' collector yields: their text merged with an ``emitter`` label."""

    def __init__(self, emitter: str, text: str) -> None:
        self._emitter = emitter
        self._text = text

    def collect(self) -> Iterable[Metric]:
        merged = MergedMetrics()
        merged.add_text(self._emitter, self._text)
        return merged.families()


def _type_lines(text: str) -> Counter[str]:
    return Counter(m[1] for m in re.finditer(r"^# TYPE (\S+) ", text, re.MULTILINE))


def _strictly_one_family_per_name(text: str) -> dict[str, Metric]:
    """Each name has one TYPE and one HELP line, its series right after them; parsed families."""
    types, helps = _type_lines(text), Counter(re.findall(r"^# HELP (\S+) ", text, re.MULTILINE))
    assert all(n == 1 for n in types.values()), [k for k, n in types.items() if n > 1]
    assert all(n == 1 for n in helps.values()), [k for k, n in helps.items() if n > 1]
    families = list(text_string_to_metric_families(text))
    names = [exposed_name(f) for f in families]
    assert len(names) == len(set(names)), names
    return {exposed_name(f): f for f in families}


def _core() -> list[Metric]:
    cpu = CounterMetricFamily("process_cpu_seconds", "Total user and system CPU time spent in seconds.")
    cpu.add_metric([], 1.5)
    fds = GaugeMetricFamily("process_open_fds", "Number of open file descriptors.")
    fds.add_metric([], 20)
    max_fds = GaugeMetricFamily("process_max_fds", "Maximum number of open file descriptors.")
    max_fds.add_metric([], 1024)
    return [cpu, fds, max_fds]


def test_without_a_fix_the_remote_series_give_a_second_type_line() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(_core()))
    registry.register(_Remote("trace", REMOTE_TEXT))
    assert _type_lines(generate_latest(registry).decode())["process_cpu_seconds_total"] == 2


def test_a_remote_family_of_a_core_name_joins_it_with_its_emitter_label() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(_core()))
    registry.register(_Remote("trace", REMOTE_TEXT))
    registry.register(_Remote("probe", REMOTE_TEXT))
    dropped: list[DroppedFamily] = []
    text = generate_latest(MergedFamilies(registry, dropped.append)).decode()
    families = _strictly_one_family_per_name(text)
    cpu = families["process_cpu_seconds_total"]
    assert cpu.documentation == "Total user and system CPU time spent in seconds."
    assert sorted((s.labels.get("emitter", ""), s.value) for s in cpu.samples) == [
        ("", 1.5),
        ("probe", 12.5),
        ("trace", 12.5),
    ]
    fds = families["process_open_fds"]
    assert sorted((s.labels.get("emitter", ""), s.value) for s in fds.samples) == [
        ("", 20.0),
        ("probe", 9.0),
        ("trace", 9.0),
    ]
    assert [(s.labels, s.value) for s in families["process_max_fds"].samples] == [({}, 1024.0)]
    assert "process_max_fds_total" in families  # another name: a family of its own
    assert {s.labels["emitter"] for s in families["my_agent_requests_total"].samples} == {"trace", "probe"}
    assert dropped == []


def test_a_family_of_another_type_is_left_out_naming_the_reason() -> None:
    core = _core()
    remote = GaugeMetricFamily("process_cpu_seconds_total", "CPU as a gauge", labels=["emitter"])
    remote.add_metric(["trace"], 3.0)
    families, dropped = merge_families([*core, remote])
    assert families == core
    assert dropped == [
        DroppedFamily(
            "process_cpu_seconds_total", "type gauge, but the first family of this name is a counter"
        )
    ]


def test_a_family_whose_series_belong_to_another_family_is_left_out() -> None:
    histogram = HistogramMetricFamily(
        "rpc_seconds", "RPC durations", buckets=[("1.0", 2), ("+Inf", 3)], sum_value=4
    )
    count = GaugeMetricFamily(
        "rpc_seconds_count", "a gauge named like the histogram's count", labels=["emitter"]
    )
    count.add_metric(["trace"], 7)
    families, dropped = merge_families([histogram, count])
    assert families == [histogram]
    assert dropped == [
        DroppedFamily("rpc_seconds_count", "series 'rpc_seconds_count' belongs to the family 'rpc_seconds'")
    ]
    text = generate_latest(_Families(families)).decode()
    _strictly_one_family_per_name(text)


def test_a_series_given_twice_is_kept_once() -> None:
    first = GaugeMetricFamily("queue_size", "first", labels=["emitter"])
    first.add_metric(["a"], 1)
    second = GaugeMetricFamily("queue_size", "second", labels=["emitter"])
    second.add_metric(["a"], 2)
    second.add_metric(["b"], 3)
    families, dropped = merge_families([first, second])
    (merged,) = families
    assert [(s.labels, s.value) for s in merged.samples] == [({"emitter": "a"}, 1.0), ({"emitter": "b"}, 3.0)]
    assert merged.documentation == "first"
    assert dropped == [DroppedFamily("queue_size", "1 series given twice (same name and labels)")]


def test_families_without_collisions_are_passed_through_unchanged() -> None:
    core = _core()
    families, dropped = merge_families(core)
    assert families == core and all(a is b for a, b in zip(families, core, strict=True)) and dropped == []


async def _scrape(url: str) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    return await asyncio.to_thread(fetch)


async def test_the_core_endpoint_serves_one_family_per_name_and_counts_what_it_leaves_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry = Telemetry(enabled=True, port=0, program="core_agent")
    conflicting = "# TYPE process_threads histogram\n"
    conflicting += 'process_threads_bucket{le="+Inf"} 1\nprocess_threads_count 1\nprocess_threads_sum 1\n'
    telemetry.register_collector(_Remote("trace", REMOTE_TEXT))
    telemetry.register_collector(_Remote("odd", conflicting))
    await telemetry.start()
    try:
        assert telemetry.url is not None
        with caplog.at_level(logging.WARNING, logger="comp.core.telemetry.impl"):
            first = _strictly_one_family_per_name(await _scrape(telemetry.url))
            second = _strictly_one_family_per_name(await _scrape(telemetry.url))
    finally:
        await telemetry.stop()
    emitters = {s.labels.get("emitter") for s in first["process_cpu_seconds_total"].samples}
    assert emitters == {None, "trace"}
    assert {s.labels.get("emitter") for s in first["process_open_fds"].samples} == {None, "trace"}
    assert "process_threads" in first and not any(
        "emitter" in s.labels for s in first["process_threads"].samples
    )
    assert [s.value for s in first["telemetry_dropped_families_total"].samples] == [0.0]
    assert [s.value for s in second["telemetry_dropped_families_total"].samples] == [1.0]
    warnings = [r.getMessage() for r in caplog.records if "left out of /metrics" in r.getMessage()]
    assert warnings == [
        "metric 'process_threads' left out of /metrics (logged once): "
        "type histogram, but the first family of this name is a gauge"
    ]
