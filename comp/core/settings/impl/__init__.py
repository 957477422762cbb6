"""Implementation of the runtime settings component and its gRPC service."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings.def_ import Component, StatusProvider
from comp.core.settings.impl.change_log import ChangeLog
from comp.core.settings.impl.runtime_settings import RuntimeSettings
from comp.core.settings.impl.service import grpc_service
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]

_DISTRIBUTION = "dd-configstream"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requires:
    """``registry`` and ``configstream`` are optional (their parts of the status stay empty).
    ``status_providers``: the other components' contributions to the status (without the server's,
    the listen address shown is ``cmd_host:cmd_port``)."""

    lifecycle: Lifecycle
    config: config_def.Component
    registry: registry_def.Component | None = None
    configstream: configstream_def.Component | None = None
    status_providers: Sequence[StatusProvider] = ()


@dataclass(frozen=True)
class Provides:
    comp: Component
    grpc_service: GrpcService


def _version() -> str:
    try:
        return metadata.version(_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return ""


def new_component(requires: Requires) -> Provides:
    settings = RuntimeSettings(
        requires.config,
        registry=requires.registry,
        configstream=requires.configstream,
        status_providers=requires.status_providers,
        version=_version(),
    )
    change_log = ChangeLog(_log)

    async def stop() -> None:
        change_log.flush()  # the server stopped first: no change comes after this summary

    requires.lifecycle.append(Hook("settings", on_start=settings.start, on_stop=stop))
    return Provides(comp=settings, grpc_service=grpc_service(settings, change_log))
