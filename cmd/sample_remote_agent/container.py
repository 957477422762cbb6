"""The root container of ``sample-remote-agent``: local config, log, telemetry, the remote agent
component (its own server and its registration) and the config stream consumer.

The local configuration (``-c FILE`` or the defaults, ``DD_*`` variables, flags at source ``cli``)
gives the logging and telemetry settings and the core agent's address; the IPC client parameters are
derived from it and the flags. The remote agent component serves the agent's status, flare files and
telemetry (:mod:`sample_remote_agent.diagnostics`), registers once and hands its session to the
consumer, which streams the core agent's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dependency_injector import containers, providers

from comp.container import build_every_component
from comp.core.config import def_ as config_def
from comp.core.config.container import ConfigContainer
from comp.core.configstreamconsumer import def_ as consumer_def
from comp.core.configstreamconsumer.container import ConfigStreamConsumerContainer
from comp.core.configstreamconsumer.serving import registration_params
from comp.core.log import def_ as log_def
from comp.core.log.container import LogContainer
from comp.core.remoteagent import def_ as remoteagent_def
from comp.core.remoteagent.container import RemoteAgentContainer
from comp.core.telemetry import def_ as telemetry_def
from comp.core.telemetry.container import TelemetryContainer
from pkg.util.lifecycle import Hook, Lifecycle
from pkg.util.recent_logs import RecentLogs
from sample_remote_agent.diagnostics import SampleDiagnostics
from sample_remote_agent.keys import STREAMED_KEYS, STREAMED_PREFIXES
from sample_remote_agent.options import FLAVOR, Options, locate

__all__ = [
    "Parts",
    "SampleRemoteAgentContainer",
    "build_parts",
    "consumer_params",
    "local_config_params",
    "remote_agent_params",
]


def local_config_params(options: Options, environ: Mapping[str, str] | None = None) -> config_def.Params:
    """``-c FILE`` (or none), the environment, and telemetry as the flags say (disabled by default)."""
    overrides: dict[str, Any] = {"telemetry.enabled": options.telemetry_port is not None}
    if options.telemetry_port is not None:
        overrides["telemetry.port"] = options.telemetry_port
    return config_def.Params(
        config_file=options.config_file,
        environ=os.environ if environ is None else environ,
        overrides=overrides,
    )


def consumer_params(
    options: Options, config: config_def.Component, environ: Mapping[str, str] | None = None
) -> consumer_def.Params:
    """The consumer's address, IPC files and identity, from the flags and the local configuration;
    its filter: the keys the agent reads, plus ``--key`` / ``--prefix`` (none with ``--all-keys``)."""
    location = locate(options, config, os.environ if environ is None else environ)
    keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    if not options.all_keys:
        keys = (*STREAMED_KEYS, *options.keys)
        prefixes = (*STREAMED_PREFIXES, *options.prefixes)
    return consumer_def.Params(
        ipc_address=location.address,
        auth_token_file=location.auth_token,
        cert_file=location.ipc_cert,
        name=options.name,
        flavor=FLAVOR,
        display_name=options.name,
        ready_timeout=options.wait_timeout,
        max_message_bytes=location.max_message_bytes,
        keys=keys,
        prefixes=prefixes,
    )


def remote_agent_params(options: Options, consumer: consumer_def.Params) -> remoteagent_def.Params:
    """The registration's parameters: the consumer's core agent and identity, and ``--listen``."""
    return registration_params(consumer, options.listen)


def _log_ring(lifecycle: Lifecycle) -> RecentLogs:
    ring = RecentLogs(capacity=1000)
    lifecycle.append(Hook("recent logs", on_start=ring.start, on_stop=ring.stop))
    return ring


class _ConsumerSlot:
    """The consumer, for the status and flare providers: they are contributed to the remote agent
    component, which the consumer needs (for its session), so they are built before it and find it
    here when called."""

    def __init__(self) -> None:
        self._consumer: consumer_def.Component | None = None

    def fill(self, consumer: consumer_def.Component) -> consumer_def.Component:
        self._consumer = consumer
        return consumer

    def get(self) -> consumer_def.Component:
        if self._consumer is None:
            raise RuntimeError("the config stream consumer is not built yet")
        return self._consumer


def _diagnostics(
    slot: _ConsumerSlot,
    config: config_def.Component,
    ring: RecentLogs,
    telemetry: telemetry_def.Component,
    params: consumer_def.Params,
) -> SampleDiagnostics:
    return SampleDiagnostics(
        slot.get, config.is_secret, ring, lambda: telemetry.url, (params.keys, params.prefixes)
    )


class SampleRemoteAgentContainer(containers.DeclarativeContainer):
    """Inputs: ``options``, and ``environ`` (default ``os.environ``). Everything else is built from them."""

    options = providers.Dependency(instance_of=Options)
    environ: providers.Provider[Mapping[str, str]] = providers.Object(os.environ)
    lifecycle = providers.Singleton(Lifecycle)
    config_params = providers.Singleton(local_config_params, options, environ)
    config = providers.Container(ConfigContainer, params=config_params)
    log = providers.Container(LogContainer, lifecycle=lifecycle, config=config.component)
    telemetry = providers.Container(TelemetryContainer, lifecycle=lifecycle, config=config.component)
    ipc_client_params = providers.Singleton(consumer_params, options, config.component, environ)
    log_ring = providers.Singleton(_log_ring, lifecycle)
    consumer_slot = providers.Singleton(_ConsumerSlot)
    diagnostics = providers.Singleton(
        _diagnostics, consumer_slot, config.component, log_ring, telemetry.component, ipc_client_params
    )
    remote_agent = providers.Container(
        RemoteAgentContainer,
        lifecycle=lifecycle,
        params=providers.Singleton(remote_agent_params, options, ipc_client_params),
        services=diagnostics.provided.services.call(),
    )
    configstreamconsumer = providers.Container(
        ConfigStreamConsumerContainer,
        lifecycle=lifecycle,
        telemetry=telemetry.component,
        params=ipc_client_params,
        session=remote_agent.component,
    )
    consumer = providers.Singleton(_ConsumerSlot.fill, consumer_slot, configstreamconsumer.component)


@dataclass(frozen=True)
class Parts:
    """The built components, in the order their lifecycle hooks run."""

    lifecycle: Lifecycle
    config: config_def.Component
    log: log_def.Component
    telemetry: telemetry_def.Component
    consumer: consumer_def.Component
    consumer_params: consumer_def.Params
    remote_agent: remoteagent_def.Component


def build_parts(container: SampleRemoteAgentContainer) -> Parts:
    """Construct every component, in the order the container declares them (log first, so that it
    starts first). Raises on bad input."""
    build_every_component(container)
    return Parts(
        lifecycle=container.lifecycle(),
        config=container.config.component(),
        log=container.log.component(),
        telemetry=container.telemetry.component(),
        consumer=container.consumer(),
        consumer_params=container.ipc_client_params(),
        remote_agent=container.remote_agent.component(),
    )
