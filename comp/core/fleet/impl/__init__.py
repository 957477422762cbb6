"""Implementation of the fleet source (the loop in :mod:`.source`, the config side in :mod:`.applier`).

Read once at construction: ``remote_config.etcd.*`` (endpoints, prefix, scopes, TLS and auth,
cache file, timeouts and reconnect delays), ``hostname`` and ``tags`` (for the default scopes).
Without endpoints the component is off: its status says so and it starts nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from comp.core.config import def_ as config_def
from comp.core.fleet.def_ import AppliedValue, Component, FleetStatus
from comp.core.fleet.impl.applier import FleetApplier
from comp.core.fleet.impl.source import FleetSettings, FleetSource
from comp.core.ipc import def_ as ipc_def
from comp.core.settings.def_ import StatusFields, StatusProvider
from comp.core.telemetry import def_ as telemetry_def
from pkg.etcd import EtcdClient, EtcdOptions
from pkg.fleet import FleetKeyError, default_scopes
from pkg.fleet.keys import check_scope
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]

CACHE_FILE_NAME = "fleet-cache.json"
_K = "remote_config.etcd."


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component
    ipc: ipc_def.Component | None = None
    telemetry: telemetry_def.Component | None = None


@dataclass(frozen=True)
class Provides:
    """``status``: the fleet source's state, for the agent's status."""

    comp: Component
    status: StatusProvider


class _Off:
    """The fleet source without endpoints."""

    def status(self) -> FleetStatus:
        return FleetStatus(enabled=False)

    def applied(self) -> dict[str, AppliedValue]:
        return {}

    async def wait_revision(self, revision: int, within: float) -> bool:
        return False


def etcd_options(config: config_def.Reader) -> EtcdOptions:
    """The client options held by ``remote_config.etcd.*``."""
    return EtcdOptions(
        endpoints=tuple(config.get_string_list(_K + "endpoints")),
        ca_file=config.get_string(_K + "ca_file"),
        cert_file=config.get_string(_K + "cert_file"),
        key_file=config.get_string(_K + "key_file"),
        username=config.get_string(_K + "username"),
        password=config.get_string(_K + "password"),
        timeout=config.get_duration(_K + "request_timeout").total_seconds(),
    )


def fleet_scopes(config: config_def.Reader) -> tuple[str, ...]:
    """``remote_config.etcd.scopes``, else ``global``, ``env:<env tag>``, ``host:<hostname>``.
    Raises FleetKeyError naming a scope that cannot be one."""
    configured = config.get_string_list(_K + "scopes")
    if configured:
        return tuple(check_scope(s) for s in configured)
    hostname = config.get_string("hostname") or socket.gethostname()
    return default_scopes(hostname, config.get_string_list("tags"))


def new_component(requires: Requires) -> Provides:
    """The fleet source; raises ValueError naming the key when ``remote_config.etcd.*`` is unusable."""
    config = requires.config
    options = etcd_options(config)
    if not options.endpoints:
        return _provides(_Off())
    try:
        scopes = fleet_scopes(config)
    except FleetKeyError as exc:
        raise ValueError(f"{_K}scopes: {exc}") from None
    prefix = config.get_string(_K + "prefix")
    if not prefix:
        raise ValueError(f"{_K}prefix: must not be empty (the fleet would read the whole etcd)")
    if bool(options.username) != bool(options.password):
        raise ValueError(f"{_K}username and {_K}password: give both or neither")
    cache = config.get_string(_K + "cache_file")
    cache_file = Path(cache) if cache else _default_cache(requires.ipc)
    settings = FleetSettings(
        prefix=prefix,
        scopes=scopes,
        cache_file=cache_file,
        startup_timeout=config.get_duration(_K + "startup_timeout").total_seconds(),
        reconnect_initial=config.get_duration(_K + "reconnect_initial_delay").total_seconds(),
        reconnect_max=config.get_duration(_K + "reconnect_max_delay").total_seconds(),
    )
    on_refused = _refused_counter(requires.telemetry)
    applier = FleetApplier(config, prefix, scopes, on_refused)
    source = FleetSource(EtcdClient(options), applier, settings, options.endpoints)
    requires.lifecycle.append(Hook("fleet", on_start=source.start, on_stop=source.stop))
    return _provides(source)


def _provides(fleet: Component) -> Provides:
    def status() -> StatusFields:
        return {"fleet": fleet.status().as_dict()}

    return Provides(comp=fleet, status=status)


def _default_cache(ipc: ipc_def.Component | None) -> Path | None:
    if ipc is None:
        return None
    return ipc.paths.auth_token.parent / CACHE_FILE_NAME


def _refused_counter(telemetry: telemetry_def.Component | None) -> Callable[[], None]:
    if telemetry is None:
        return lambda: None
    counter = telemetry.meter("fleet").create_counter(
        "fleet.refused_values", description="Fleet values refused by the config schema or limits"
    )
    counter.add(0)  # exported from the start, so that increase() sees the first refusal
    return lambda: counter.add(1)
