"""Build info and process series at a real ``/metrics``, when the binary names itself."""

from __future__ import annotations

import asyncio
import os
import platform
import threading
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google import protobuf
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from comp.core.config.mock import new_mock
from comp.core.telemetry.container import TelemetryContainer
from comp.core.telemetry.def_ import Params
from comp.core.telemetry.impl import Telemetry
from comp.core.telemetry.impl.process import ThreadsCollector, metric_prefix
from pkg.util.cli import package_version
from pkg.util.lifecycle import Lifecycle

Families = dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]

_LINUX = Path("/proc/self/status").exists()


async def _scrape(telemetry: Telemetry) -> Families:
    url = telemetry.url
    assert url is not None

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(fetch)
    return {
        family.name: (family.type, [(s.name, dict(s.labels), s.value) for s in family.samples])
        for family in text_string_to_metric_families(text)
    }


@pytest.fixture
async def named() -> AsyncIterator[Telemetry]:
    telemetry = Telemetry(enabled=True, port=0, program="core_agent")
    await telemetry.start()
    try:
        yield telemetry
    finally:
        await telemetry.stop()


async def test_build_info_names_the_running_versions(named: Telemetry) -> None:
    families = await _scrape(named)
    assert families["core_agent_build_info"] == (
        "gauge",
        [
            (
                "core_agent_build_info",
                {
                    "version": package_version(),
                    "python": platform.python_version(),
                    "grpcio": grpc.__version__,
                    "protobuf": protobuf.__version__,
                },
                1.0,
            )
        ],
    )


@pytest.mark.skipif(not _LINUX, reason="process series are read from /proc")
async def test_process_series_describe_this_process(named: Telemetry) -> None:
    families = await _scrape(named)

    def value(name: str) -> float:
        (sample,) = families[name][1]
        return sample[2]

    assert families["process_cpu_seconds"][0] == "counter"
    assert value("process_cpu_seconds") > 0
    assert value("process_resident_memory_bytes") > 10 * 1024 * 1024  # a Python with grpc loaded
    # This process's fds, give or take the scrape's own sockets.
    assert abs(value("process_open_fds") - len(os.listdir("/proc/self/fd"))) <= 8
    assert value("process_max_fds") > value("process_open_fds")
    assert families["process_threads"][0] == "gauge"
    assert value("process_threads") >= threading.active_count()


async def test_no_program_name_no_build_info_nor_process_series() -> None:
    telemetry = Telemetry(enabled=True, port=0)
    await telemetry.start()
    try:
        families = await _scrape(telemetry)
    finally:
        await telemetry.stop()
    assert not [name for name in families if name.startswith("process_") or name.endswith("_build_info")]


def test_threads_collector_without_proc_reports_nothing(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    registry.register(ThreadsCollector(tmp_path / "missing"))
    assert b"process_threads" not in generate_latest(registry)


@pytest.mark.parametrize(
    ("program", "prefix"), [("core_agent", "core_agent"), ("core-agent", "core_agent"), ("9x", "_9x")]
)
def test_program_names_become_metric_prefixes(program: str, prefix: str) -> None:
    assert metric_prefix(program) == prefix


async def test_container_passes_the_program_name() -> None:
    config = new_mock({"telemetry.enabled": True, "telemetry.port": 0})
    container = TelemetryContainer(lifecycle=Lifecycle(), config=config, params=Params(program="sample"))
    telemetry = container.component()
    await telemetry.start()
    try:
        assert "sample_build_info" in await _scrape(telemetry)
    finally:
        await telemetry.stop()
