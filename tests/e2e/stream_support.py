"""Helpers of the config stream's end-to-end tests (this module holds no tests).

The tests talk to a real ``core-agent`` process with raw gRPC stubs, so that they exercise the server
and not the consumer library:

- :func:`register` gets a session id from ``datadog.remoteagent.v1.RemoteAgent``;
- :func:`narrow_channel` is a channel with a small receive window, for subscribers that stall;
- :class:`StreamClient` is one ``datadog.api.v1.AgentSecure/StreamConfigEvents`` call read by a task:
  it records every event, checks the order of the sequence ids and keeps the view the events build;
- :class:`SettingsApi` reads (``ListSettings``) and changes (``SetSettings``) the core's config;
- :func:`scrape` and :func:`wait_metrics` read the core's Prometheus endpoint ``/metrics``;
- :func:`memory_kib` reads the core's resident memory from ``/proc``.

Waiting is by polling a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from comp.core.settings.impl.runtime_settings import mask_secret
from pkg.ipc import secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from pkg.protoconv.values import from_value
from tests.e2e.harness import AgentProcess
from tests.support.polling import eventually

__all__ = [
    "WAIT",
    "CoreView",
    "Metrics",
    "SettingsApi",
    "StreamClient",
    "View",
    "memory_kib",
    "narrow_channel",
    "register",
    "scrape",
    "view_mismatches",
    "wait_metrics",
]

WAIT = 20.0
"""Upper bound of every wait (things normally happen well within a second)."""

View = dict[str, tuple[Any, str]]
"""Settings as a stream builds them: ``key -> (value, source)``."""


def narrow_channel(agent: AgentProcess, window: int = 1024) -> grpc.aio.Channel:
    """An mTLS channel whose receive window stays at ``window`` bytes (no BDP probing).

    A stream on it that stops reading makes the core's sends back up after about ``window`` bytes;
    on an ordinary channel the window grows and megabytes are taken in before that happens.
    """
    options = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", window)]
    return secure_channel(agent.address, agent.client_credentials(), options)


async def register(agent: AgentProcess, channel: grpc.aio.Channel, name: str = "e2e stream") -> str:
    """A new session id from the registry."""
    reply = await remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
        remoteagent_pb2.RegisterRemoteAgentRequest(pid="1", flavor="e2e-stream", display_name=name),
        metadata=agent.auth_metadata(),
        timeout=5,
    )
    return str(reply.session_id)


class StreamClient:
    """One ``StreamConfigEvents`` call, read by a task from :meth:`start` on.

    ``session_id`` goes in the ``session_id`` metadata entry, or with ``in_request`` in request field 2
    (older clients); ``timeout`` is the call's deadline. While :attr:`gate` is clear the task stops
    reading (the core's sends then back up). :attr:`violations` lists every event out of order (an
    update whose id is not the last + 1, snapshot settings not sorted by key): it must stay empty.
    """

    def __init__(
        self,
        agent: AgentProcess,
        channel: grpc.aio.Channel,
        session_id: str,
        *,
        name: str = "e2e",
        in_request: bool = False,
        timeout: float | None = None,
    ) -> None:
        request = configstream_pb2.ConfigStreamRequest(name=name)
        metadata: tuple[tuple[str, str], ...] = agent.auth_metadata()
        if in_request:
            request.session_id = session_id
        else:
            metadata = (*metadata, ("session_id", session_id))
        self._stub = api_pb2_grpc.AgentSecureStub(channel)
        self._request = request
        self._metadata = metadata
        self._timeout = timeout
        self.calls = 0
        self.events: list[configstream_pb2.ConfigEvent] = []
        self.snapshots: list[configstream_pb2.ConfigSnapshot] = []
        self.updates = 0
        self.view: View = {}
        self.sequence_id: int | None = None
        self.violations: list[str] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.ended = False
        self.gate = asyncio.Event()
        self.gate.set()
        self._call: Any = None
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False

    def start(self) -> StreamClient:
        """Open the call and start reading it."""
        assert self._task is None, "already started"
        self.calls += 1
        self._call = self._stub.StreamConfigEvents(
            self._request, metadata=self._metadata, timeout=self._timeout
        )
        self._task = asyncio.create_task(self._read_all(), name=f"stream {self._request.name}")
        return self

    async def cancel(self) -> None:
        """Cancel the call (the client going away) and wait for the reading task to end."""
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()
        self.gate.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def abandon(self) -> None:
        """Cancel the task reading the call, not the call itself (grpc cancels the call with it)."""
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def state(self) -> str:
        """Where the stream is, for failure messages."""
        return f"at sequence id {self.sequence_id}, {len(self.events)} events, error {self.error}"

    async def wait_snapshot(self, count: int = 1) -> configstream_pb2.ConfigSnapshot:
        """The ``count``-th snapshot, once it arrived."""
        await eventually(
            lambda: len(self.snapshots) >= count or self.ended, f"snapshot #{count}", WAIT, detail=self.state
        )
        assert len(self.snapshots) >= count, f"the stream ended without snapshot #{count}: {self.error}"
        return self.snapshots[count - 1]

    async def wait_sequence_id(self, sequence_id: int) -> None:
        """Wait until the events applied reach ``sequence_id``."""
        await eventually(
            lambda: self.ended or (self.sequence_id is not None and self.sequence_id >= sequence_id),
            f"sequence id {sequence_id}",
            WAIT,
            detail=self.state,
        )
        assert not self.ended, f"the stream ended at sequence id {self.sequence_id}: {self.error}"

    async def wait_ended(self) -> grpc.aio.AioRpcError | None:
        """Wait until the call is over; the error it ended with (None: it ended normally)."""
        await eventually(lambda: self.ended, "the end of the stream", WAIT, detail=self.state)
        return self.error

    async def _read_all(self) -> None:
        try:
            while True:
                await self.gate.wait()
                event = await self._call.read()
                if event is grpc.aio.EOF:
                    return
                self._apply(event)
        except grpc.aio.AioRpcError as exc:
            if not (self._cancelled and exc.code() == grpc.StatusCode.CANCELLED):
                self.error = exc
        except asyncio.CancelledError:
            if not self._cancelled:
                raise
        finally:
            self.ended = True

    def _apply(self, event: configstream_pb2.ConfigEvent) -> None:
        self.events.append(event)
        kind = event.WhichOneof("event")
        if kind == "snapshot":
            snapshot = event.snapshot
            keys = [s.key for s in snapshot.settings]
            if keys != sorted(set(keys)):
                self.violations.append(f"snapshot {snapshot.sequence_id}: settings not sorted by key")
            self.snapshots.append(snapshot)
            self.view = {s.key: (from_value(s.value), s.source) for s in snapshot.settings}
            self.sequence_id = snapshot.sequence_id
            return
        update = event.update
        if self.sequence_id is None:
            self.violations.append(f"update {update.sequence_id} before any snapshot")
        elif update.sequence_id != self.sequence_id + 1:
            self.violations.append(f"update {update.sequence_id} after {self.sequence_id}")
        self.sequence_id = update.sequence_id
        self.updates += 1
        setting = update.setting
        if setting.source:
            self.view[setting.key] = (from_value(setting.value), setting.source)
        else:  # unset, and no source holds the key any more
            self.view.pop(setting.key, None)


@dataclass(frozen=True)
class CoreView:
    """The core's effective settings ``key -> (value, source, masked)`` and its sequence id."""

    settings: dict[str, tuple[Any, str, bool]]
    sequence_id: int


class SettingsApi:
    """The core's ``configstream.settings.v1.Settings`` service over ``channel``."""

    def __init__(self, agent: AgentProcess, channel: grpc.aio.Channel) -> None:
        self._stub = settings_pb2_grpc.SettingsStub(channel)
        self._metadata = agent.auth_metadata()

    async def view(self) -> CoreView:
        response = await self._stub.ListSettings(
            settings_pb2.ListSettingsRequest(), metadata=self._metadata, timeout=10
        )
        settings = {s.key: (from_value(s.value), s.source, s.masked) for s in response.settings}
        return CoreView(settings, int(response.sequence_id))

    async def set(self, values: Mapping[str, str]) -> int:
        """Set values given as text at ``agent-runtime``; the core's sequence id after it."""
        response = await self._stub.SetSettings(
            settings_pb2.SetSettingsRequest(values=dict(values)), metadata=self._metadata, timeout=10
        )
        return int(response.sequence_id)

    async def unset(self, key: str) -> int:
        response = await self._stub.UnsetSetting(
            settings_pb2.UnsetSettingRequest(key=key), metadata=self._metadata, timeout=10
        )
        return int(response.sequence_id)


def view_mismatches(view: View, core: CoreView) -> list[str]:
    """How a stream's view differs from the core's settings (secrets compared in masked form)."""
    problems = [f"{key}: missing from the stream" for key in sorted(set(core.settings) - set(view))]
    problems += [f"{key}: not in the core" for key in sorted(set(view) - set(core.settings))]
    for key in sorted(set(view) & set(core.settings)):
        value, source = view[key]
        expected, expected_source, masked = core.settings[key]
        shown = mask_secret(value, key) if masked else value
        if (shown, source) != (expected, expected_source):
            problems.append(f"{key}: stream has {shown!r} ({source}), core {expected!r} ({expected_source})")
    return problems


@dataclass(frozen=True)
class Metrics:
    """One scrape of ``/metrics``: sample name (``configstream_updates_sent_total``) and labels to value."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when absent (counters show once first added to)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str) -> float:
        """The sum over every label set of ``name``."""
        return sum(v for (sample, _labels), v in self.samples.items() if sample == name)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode("utf-8"))


async def scrape(agent: AgentProcess) -> Metrics:
    """The core's metrics now."""
    text = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{agent.telemetry_port}/metrics")
    samples = {
        (sample.name, frozenset(sample.labels.items())): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Metrics(samples)


async def wait_metrics(
    agent: AgentProcess,
    predicate: Callable[[Metrics], bool],
    what: str,
    timeout: float = WAIT,  # noqa: ASYNC109
) -> Metrics:
    """Scrape until ``predicate`` holds for a scrape (returned); AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = await scrape(agent)
        if predicate(metrics):
            return metrics
        if time.monotonic() > deadline:
            configstream = {k: v for k, v in metrics.samples.items() if k[0].startswith("configstream")}
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; metrics: {configstream}")
        await asyncio.sleep(0.05)


def memory_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A memory figure of process ``pid`` from ``/proc/<pid>/status`` in KiB (VmRSS, VmHWM, ...)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name == field_name:
                return int(rest.split()[0])
    raise LookupError(f"no {field_name} in /proc/{pid}/status")
