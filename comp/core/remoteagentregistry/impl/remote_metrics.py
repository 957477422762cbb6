"""Remote agents' metrics in the core agent's ``/metrics``: a prometheus_client collector.

Register :class:`RemoteMetricsCollector` in the registry the metrics endpoint serves. Each scrape
runs one telemetry fan-out on the core's event loop (captured by :meth:`start`) and waits for it at
most the query deadline plus a second, so a slow agent never delays a scrape past that; the series
of every agent that answered are merged by :mod:`pkg.remoteagent.promtext` (labelled ``emitter``).
A scrape on the loop's own thread, or before start, gets no remote series rather than a deadlock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from comp.core.remoteagentregistry.def_ import Queries
from pkg.remoteagent.names import sanitize_name
from pkg.remoteagent.promtext import MergedMetrics, render

__all__ = ["RemoteMetricsCollector", "merge_remote_metrics"]

_log = logging.getLogger(__name__)
_GRACE_SECONDS = 1.0


async def merge_remote_metrics(queries: Queries) -> MergedMetrics:
    """One telemetry fan-out, merged; what is dropped is logged as a warning."""
    merged = MergedMetrics()
    for result in await queries.telemetry():
        if result.response is None:
            _log.warning("no metrics from remote agent %r: %s", result.agent.display_name, result.error)
            continue
        merged.add_text(sanitize_name(result.agent.display_name), result.response)
    for warning in merged.warnings:
        _log.warning("%s", warning)
    return merged


class RemoteMetricsCollector(Collector):
    """Yields the remote agents' merged families at each scrape (from a thread off the loop)."""

    def __init__(self, queries: Queries, timeout: Callable[[], float]) -> None:
        self._queries = queries
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None

    def collect(self) -> Iterable[Metric]:
        loop = self._loop
        if loop is None or loop.is_closed():
            return []
        try:
            if asyncio.get_running_loop() is loop:
                _log.warning("remote agents' metrics skipped: scraped on the event loop's own thread")
                return []
        except RuntimeError:
            pass  # no loop in this thread: the expected case
        future = asyncio.run_coroutine_threadsafe(merge_remote_metrics(self._queries), loop)
        try:
            return future.result(self._timeout() + _GRACE_SECONDS).families()
        except concurrent.futures.TimeoutError:
            future.cancel()
            _log.warning("remote agents' metrics skipped: the fan-out outlived the scrape's deadline")
        except Exception:
            _log.exception("remote agents' metrics skipped")
        return []

    async def text(self) -> str:
        """The remote agents' merged metrics as Prometheus text (on the loop)."""
        return render((await merge_remote_metrics(self._queries)).families())
