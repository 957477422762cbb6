"""The remote agent registry: sessions, refreshes, idle eviction and their telemetry."""

from __future__ import annotations

import asyncio
import builtins
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from opentelemetry.metrics import Meter

from comp.core.config import def_ as config_def
from comp.core.remoteagentregistry.def_ import (
    EvictionCallback,
    InvalidRegistrationError,
    RegistryDisabledError,
    RegistryFullError,
    RemoteAgent,
)
from comp.core.remoteagentregistry.impl.validation import MAX_AGENTS, validate_registration
from comp.core.telemetry.def_ import SECONDS_BUCKETS
from pkg.config import keys
from pkg.remoteagent.endpoint import EndpointError, grpc_target
from pkg.util.text import shorten

__all__ = [
    "TELEMETRY_NAMESPACE",
    "RemoteAgentRegistry",
]

_log = logging.getLogger(__name__)

TELEMETRY_NAMESPACE = "remote_agent_registry"


class _Metrics:
    """The registry's instruments (names prefixed with the namespace, as Prometheus shows them)."""

    def __init__(self, meter: Meter) -> None:
        p = TELEMETRY_NAMESPACE
        self.registered = meter.create_gauge(f"{p}.registered", description="Remote agents registered now")
        self.registered_error = meter.create_counter(
            f"{p}.registered_error", description="Registrations refused"
        )
        self.updated = meter.create_counter(f"{p}.updated", description="Successful session refreshes")
        self.updated_error = meter.create_counter(
            f"{p}.updated_error", description="Refreshes refused (unknown session, registry disabled)"
        )
        self.action_duration = meter.create_histogram(
            f"{p}.action_duration_seconds",
            unit="s",
            description="Duration of registry actions, by action",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.action_error = meter.create_counter(f"{p}.action_error", description="Failed actions, by action")
        self.evicted = meter.create_counter(f"{p}.evicted", description="Sessions removed for idleness")
        # Exported at 0 from the start, so that increase() sees the first event.
        for counter in (self.registered_error, self.updated, self.updated_error, self.evicted):
            counter.add(0)
        for action in ("register", "refresh"):
            self.action_error.add(0, {"action": action})


class RemoteAgentRegistry:
    """Implements the registry ``Component``. Thread-safe; eviction runs on the event loop.

    ``clock`` gives the ``registered_at``/``last_seen`` readings and the idleness check (monotonic
    seconds). ``enabled`` is read once, at construction; the idle timeout at every check, so a runtime
    change applies at the next check.
    """

    def __init__(
        self,
        config: config_def.Component,
        meter: Meter,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 1.0,
        max_agents: int = MAX_AGENTS,
    ) -> None:
        self._config = config
        self._max_agents = max_agents
        self._clock = clock
        self._check_interval = check_interval
        self._enabled = config.get_bool(keys.REGISTRY_ENABLED)
        self._metrics = _Metrics(meter)
        self._lock = threading.Lock()
        self._agents: dict[str, RemoteAgent] = {}
        self._unhealthy: dict[str, str] = {}  # session id -> why; evicted at the next check
        self._callbacks: dict[int, EvictionCallback] = {}
        self._callback_ids = itertools.count()
        self._task: asyncio.Task[None] | None = None
        if self._enabled:
            self._metrics.registered.set(0)

    @property
    def enabled(self) -> bool:
        return self._enabled

    def register(
        self,
        pid: str,
        flavor: str,
        display_name: str,
        api_endpoint_uri: str = "",
        services: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        started = time.perf_counter()
        try:
            if not self._enabled:
                raise RegistryDisabledError()
            validate_registration(pid, flavor, display_name, api_endpoint_uri, services)
            name = display_name.strip()
            if not name:
                raise InvalidRegistrationError(
                    f"display_name must not be empty or blank (got {shorten(display_name)}, pid "
                    f"{shorten(pid)}, flavor {shorten(flavor)})"
                )
            try:
                grpc_target(api_endpoint_uri)
            except EndpointError as exc:
                raise InvalidRegistrationError(f"{exc} (display_name {name!r})") from None
            refresh_secs = self._refresh_interval_secs()
            now = self._clock()
            agent = RemoteAgent(
                session_id=str(uuid.uuid4()),
                pid=pid,
                flavor=flavor,
                display_name=name,
                api_endpoint_uri=api_endpoint_uri,
                services=tuple(services),
                registered_at=now,
                last_seen=now,
            )
            with self._lock:
                if len(self._agents) >= self._max_agents:
                    raise RegistryFullError(
                        f"the registry holds {len(self._agents)} remote agents, the limit is "
                        f"{self._max_agents}: try again once one is gone"
                    )
                self._agents[agent.session_id] = agent
                self._metrics.registered.set(len(self._agents))
        except (RegistryDisabledError, InvalidRegistrationError, RegistryFullError):
            self._metrics.registered_error.add(1)
            self._metrics.action_error.add(1, {"action": "register"})
            raise
        finally:
            self._metrics.action_duration.record(time.perf_counter() - started, {"action": "register"})
        _log.info(
            "remote agent registered: %s (flavor %s, pid %s)", shorten(name), shorten(flavor), shorten(pid)
        )
        return agent.session_id, refresh_secs

    def refresh(self, session_id: str) -> bool:
        started = time.perf_counter()
        try:
            if not self._enabled:
                self._metrics.updated_error.add(1)
                self._metrics.action_error.add(1, {"action": "refresh"})
                raise RegistryDisabledError()
            with self._lock:
                agent = self._agents.get(session_id)
                if agent is not None:
                    self._agents[session_id] = replace(agent, last_seen=self._clock())
            if agent is None:
                self._metrics.updated_error.add(1)
                self._metrics.action_error.add(1, {"action": "refresh"})
                return False
            self._metrics.updated.add(1)
            return True
        finally:
            self._metrics.action_duration.record(time.perf_counter() - started, {"action": "refresh"})

    def get(self, session_id: str) -> RemoteAgent | None:
        with self._lock:
            return self._agents.get(session_id)

    def list(self) -> builtins.list[RemoteAgent]:
        with self._lock:
            return builtins.list(self._agents.values())

    def mark_unhealthy(self, session_id: str, reason: str) -> bool:
        with self._lock:
            if session_id not in self._agents:
                return False
            self._unhealthy.setdefault(session_id, reason)
        _log.warning("remote agent session %s marked unhealthy: %s", session_id, reason)
        return True

    def on_evict(self, callback: EvictionCallback) -> Callable[[], None]:
        with self._lock:
            key = next(self._callback_ids)
            self._callbacks[key] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(key, None)

        return unsubscribe

    def evict_idle(self) -> builtins.list[str]:
        """Remove the agents not refreshed for the idle timeout, tell the callbacks; the evicted ids.

        Called every ``check_interval`` seconds by the task the start hook launches; callable directly.
        """
        timeout = self._idle_timeout_secs()
        now = self._clock()
        with self._lock:
            evicted = [
                a
                for a in self._agents.values()
                if now - a.last_seen > timeout or a.session_id in self._unhealthy
            ]
            reasons = {a.session_id: self._unhealthy.pop(a.session_id, None) for a in evicted}
            for agent in evicted:
                del self._agents[agent.session_id]
            if evicted:
                self._metrics.registered.set(len(self._agents))
            callbacks = builtins.list(self._callbacks.values())
        if evicted:
            self._metrics.evicted.add(len(evicted))
        for agent in evicted:
            _log.info(
                "remote agent %s (flavor %s, pid %s) evicted: %s",
                shorten(agent.display_name),
                shorten(agent.flavor),
                shorten(agent.pid),
                reasons[agent.session_id] or f"not refreshed for {now - agent.last_seen:.0f}s",
            )
            for callback in callbacks:
                try:
                    callback(agent.session_id)
                except Exception:
                    _log.exception("eviction callback %r failed", callback)
        return [a.session_id for a in evicted]

    async def start(self) -> None:
        """Start the periodic eviction (only when enabled)."""
        if self._enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._evict_periodically(), name="remote agent registry eviction"
            )

    async def stop(self) -> None:
        """Stop the periodic eviction."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _evict_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            try:
                self.evict_idle()
            except Exception:  # never let one bad check end the eviction for good
                _log.exception("remote agent eviction check failed")

    def _refresh_interval_secs(self) -> int:
        # declared positive and at most the largest uint32 (the wire's type, whole seconds)
        return max(1, int(self._config.get_duration(keys.REGISTRY_REFRESH_INTERVAL).total_seconds()))

    def _idle_timeout_secs(self) -> float:
        return self._config.get_duration(keys.REGISTRY_IDLE_TIMEOUT).total_seconds()
