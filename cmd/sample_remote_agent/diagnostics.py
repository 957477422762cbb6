"""What the sample remote agent shows the core agent: status, flare files and telemetry.

- status: the config stream's state, sequence id, epoch, reconnects and last error;
- flare: ``agent.log`` (its recent log lines) and ``config.yaml`` (the effective streamed config),
  with every secret masked: secret-named keys show ``********``, and their values are scrubbed from
  the log lines too;
- telemetry: the text of its own ``/metrics`` (empty when its telemetry is disabled).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from comp.api.grpcserver.def_ import GrpcService
from comp.core.configstreamconsumer import def_ as consumer_def
from pkg.remoteagent.providers import AddToServer, Sections, flare_service, status_service, telemetry_service

__all__ = ["MASK", "LogRing", "SampleDiagnostics"]

MASK = "********"
_MIN_SCRUBBED_LENGTH = 5
_LOG_LINES = 1000
_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


class LogRing(logging.Handler):
    """Keeps the last ``capacity`` formatted log lines (attach it to the root logger)."""

    def __init__(self, capacity: int = _LOG_LINES) -> None:
        super().__init__(logging.DEBUG)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def lines(self) -> list[str]:
        with self._guard:
            return list(self._lines)

    async def start(self) -> None:
        logging.getLogger().addHandler(self)

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self)


def _masked(settings: Mapping[str, Any], is_secret: Callable[[str], bool]) -> dict[str, Any]:
    return {k: (MASK if is_secret(k) and v not in (None, "") else v) for k, v in sorted(settings.items())}


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class SampleDiagnostics:
    """The three providers, over the consumer (looked up at each call), the local config's secret
    rule and the log ring."""

    def __init__(
        self,
        consumer: Callable[[], consumer_def.Component],
        is_secret: Callable[[str], bool],
        logs: LogRing,
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
        secrets = [
            str(v)
            for k, v in settings.items()
            if self._is_secret(k) and isinstance(v, str) and len(v) >= _MIN_SCRUBBED_LENGTH
        ]
        config = yaml.safe_dump(_masked(settings, self._is_secret), sort_keys=True, allow_unicode=True)
        log_text = "\n".join(self._logs.lines()) + "\n"
        return {
            "config.yaml": _scrub(config, secrets).encode(),
            "agent.log": _scrub(log_text, secrets).encode(),
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
