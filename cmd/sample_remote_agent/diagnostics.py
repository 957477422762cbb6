"""What the sample remote agent shows the core agent: status, flare files and telemetry.

- status: the config stream's state, sequence id, epoch, reconnects, last error, its filter and
  when the core was last heard from (an event or a progress event);
- flare: ``agent.log`` (its recent log lines) and ``config.yaml`` (the effective streamed config),
  with every secret masked: secret-named keys show ``********``, and their values are scrubbed from
  the log lines too;
- telemetry: the text of its own ``/metrics`` (empty when its telemetry is disabled).
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable

import yaml

from comp.api.grpcserver.def_ import GrpcService
from comp.core.configstreamconsumer import def_ as consumer_def
from pkg.remoteagent.providers import AddToServer, Sections, flare_service, status_service, telemetry_service
from pkg.scrub import scrub_setting, scrub_text
from pkg.util.recent_logs import RecentLogs

__all__ = ["SampleDiagnostics"]

_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


class SampleDiagnostics:
    """The three providers, over the consumer (looked up at each call), the local config's secret
    rule and the log ring; ``stream_filter``: the consumer's (keys, prefixes), shown in the status."""

    def __init__(
        self,
        consumer: Callable[[], consumer_def.Component],
        is_secret: Callable[[str], bool],
        logs: RecentLogs,
        metrics_url: Callable[[], str | None],
        stream_filter: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
    ) -> None:
        self._consumer = consumer
        self._filter = stream_filter
        self._is_secret = is_secret
        self._logs = logs
        self._metrics_url = metrics_url

    def services(self) -> list[GrpcService]:
        """The contributions to the remote agent component."""
        pairs: list[tuple[str, AddToServer]] = [
            status_service(self.status),
            flare_service(self.flare_files),
            telemetry_service(self.telemetry),
        ]
        return [GrpcService(names=(name,), register=add) for name, add in pairs]

    async def status(self) -> Sections:
        consumer = self._consumer()
        stats = consumer.stats
        main = {
            "state": consumer.state.value,
            "sequence_id": str(consumer.sequence_id),
            "epoch": stats.epoch or "none",
            "reconnects": str(stats.reconnects),
            "last_error": stats.last_error or "none",
        }
        liveness = consumer.liveness
        named = {
            "config stream": {
                "snapshots": str(stats.snapshots),
                "updates": str(stats.updates),
                "batches": str(stats.batches),
                "gaps": str(stats.gaps),
                "registrations": str(stats.registrations),
                "filter": _describe_filter(self._filter),
                "last event": _ago(liveness.last_event_at),
                "last progress": _ago(liveness.last_progress_at),
                "stalls": str(stats.stalls),
            }
        }
        return main, named

    async def flare_files(self) -> dict[str, bytes]:
        settings = self._consumer().reader().all_settings()
        secrets = [str(v) for k, v in settings.items() if self._is_secret(k) and isinstance(v, str)]
        shown = {
            key: scrub_setting(key, value, secret=self._is_secret(key))[0]
            for key, value in sorted(settings.items())
        }
        config = yaml.safe_dump(shown, sort_keys=True, allow_unicode=True)
        return {
            "config.yaml": scrub_text(config, secrets).encode(),
            "agent.log": scrub_text(self._logs.text(), secrets).encode(),
        }

    async def telemetry(self) -> str:
        url = self._metrics_url()
        if url is None:
            return ""
        return await asyncio.to_thread(_fetch, url)


def _ago(at: float | None) -> str:
    return "never" if at is None else f"{max(0.0, time.monotonic() - at):.1f}s ago"


def _describe_filter(stream_filter: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    keys, prefixes = stream_filter
    if not keys and not prefixes:
        return "every key"
    return ", ".join([*keys, *(f"{p}.*" for p in prefixes)])


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2.0) as response:  # our own loopback endpoint
        body: bytes = response.read()
    return body.decode("utf-8")
