"""Series about the process itself: ``<program>_build_info`` and the process's resources.

- ``<program>_build_info{version, python, grpcio, protobuf} 1``: what is running, to join on.
- prometheus_client's process collector: ``process_cpu_seconds_total``,
  ``process_resident_memory_bytes``, ``process_virtual_memory_bytes``, ``process_open_fds``,
  ``process_max_fds``, ``process_start_time_seconds``;
- ``process_threads``: the process's OS threads (grpc's own included, which Python does not see).

The process series are read from ``/proc`` at each scrape; where there is no ``/proc`` (not Linux)
they are left out rather than guessed.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from pathlib import Path

import grpc
from google import protobuf
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from pkg.util.cli import package_version

__all__ = ["BuildInfoCollector", "ThreadsCollector", "metric_prefix", "register_process_collectors"]

_STATUS = Path("/proc/self/status")
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_prefix(program: str) -> str:
    """``program`` as the start of a Prometheus metric name (``core-agent`` → ``core_agent``)."""
    prefix = _NOT_NAME.sub("_", program)
    return f"_{prefix}" if prefix[:1].isdigit() else prefix


class BuildInfoCollector:
    """One constant series naming the versions that make up the running program."""

    def __init__(self, program: str) -> None:
        self._name = f"{metric_prefix(program)}_build_info"
        self._labels = {
            "version": package_version(),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            "protobuf": protobuf.__version__,
        }

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            self._name, "Always 1; the labels name the versions running", labels=list(self._labels)
        )
        family.add_metric(list(self._labels.values()), 1)
        yield family


class ThreadsCollector:
    """``process_threads``: the OS threads of this process, read from ``/proc/self/status``."""

    def __init__(self, status_path: Path = _STATUS) -> None:
        self._path = status_path

    def collect(self) -> Iterable[Metric]:
        try:
            text = self._path.read_text()
        except OSError:
            return
        match = re.search(r"^Threads:\s*(\d+)", text, re.MULTILINE)
        if match is not None:
            yield GaugeMetricFamily("process_threads", "OS threads of the process", value=int(match[1]))


def register_process_collectors(registry: CollectorRegistry, program: str) -> None:
    """Register the build info of ``program`` and the process's resource series in ``registry``."""
    registry.register(BuildInfoCollector(program))
    ProcessCollector(registry=registry)
    registry.register(ThreadsCollector())
