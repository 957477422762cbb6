"""Implementation of the config stream consumer.

Modules: :mod:`.consumer` (connection loop and event application), :mod:`.view` (immutable views and
their reader), :mod:`.subscriptions` (fan-out with bounded queues), :mod:`.backoff`, :mod:`.session`
(registration and error wording), :mod:`.metrics` (telemetry).
"""

from __future__ import annotations

from dataclasses import dataclass

from comp.core.configstreamconsumer.def_ import Component, Params, SessionSource
from comp.core.configstreamconsumer.impl.consumer import StreamConsumer
from comp.core.configstreamconsumer.impl.metrics import ConsumerMetrics
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``session``: the registration component's sessions (None: the consumer registers and
    refreshes by itself)."""

    lifecycle: Lifecycle
    telemetry: telemetry_def.Component
    params: Params
    session: SessionSource | None = None


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Build the consumer; it connects when the lifecycle starts and disconnects when it stops."""
    consumer = StreamConsumer(
        requires.params, ConsumerMetrics(requires.telemetry), session_source=requires.session
    )
    requires.lifecycle.append(Hook("configstream consumer", on_start=consumer.start, on_stop=consumer.stop))
    return Provides(comp=consumer)
