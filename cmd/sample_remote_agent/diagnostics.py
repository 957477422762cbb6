"""What the sample remote agent shows the core agent: status, flare files and telemetry.

- status: the config stream's state, sequence id, epoch, reconnects and last error;
- flare: ``agent.log`` (its recent log lines) and ``config.yaml`` (the effective streamed config),
  with every secret masked: secret-named keys show ``********``, and their values are scrubbed from
  the log lines too;
- telemetry: the text of its own ``/metrics`` (empty when its telemetry is disabled).
"""

from __future__ import annotations

import asyncio
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
    rule and the log ring."""

    def __init__(
        self,
        consumer: Callable[[], consumer_def.Component],
        is_secret: Callable[[str], bool],
        logs: RecentLogs,
        metrics_url: Callable[[], str | None],
    ) -> None:
        self._consumer = consumer
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
        named = {
            "config stream": {
                "snapshots": str(stats.snapshots),
                "updates": str(stats.updates),
                "gaps": str(stats.gaps),
                "registrations": str(stats.registrations),
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


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2.0) as response:  # our own loopback endpoint
        body: bytes = response.read()
    return body.decode("utf-8")
