"""Implementation of the config stream consumer.

Modules: :mod:`.consumer` (connection loop and event application), :mod:`.view` (immutable views and
their reader), :mod:`.subscriptions` (fan-out with bounded queues), :mod:`.backoff`, :mod:`.metrics`
(telemetry); registration and error wording come from :mod:`pkg.grpcutil`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from comp.core.configstreamconsumer.def_ import Component, Params, SessionSource
from comp.core.configstreamconsumer.impl.backoff import Backoff, RandomSource
from comp.core.configstreamconsumer.impl.consumer import (
    Clock,
    StreamConsumer,
    channel_options,
)
from comp.core.configstreamconsumer.impl.metrics import NAMESPACE, ConsumerMetrics
from comp.core.configstreamconsumer.impl.subscriptions import KeyFilter, SubscriptionHub
from comp.core.configstreamconsumer.impl.view import ViewHolder, ViewReader, diff_views
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = [
    "NAMESPACE",
    "Backoff",
    "KeyFilter",
    "Provides",
    "Requires",
    "StreamConsumer",
    "SubscriptionHub",
    "ViewHolder",
    "ViewReader",
    "channel_options",
    "diff_views",
    "new_component",
]


@dataclass(frozen=True)
class Requires:
    """``rand`` (values in [0, 1)) draws the backoff jitter and ``clock`` measures healthy periods:
    both are replaceable so tests can check delays without waiting for them. ``session``: the
    registration component's sessions (None: the consumer registers and refreshes by itself)."""

    lifecycle: Lifecycle
    telemetry: telemetry_def.Component
    params: Params
    rand: RandomSource = field(default=random.random)
    clock: Clock = field(default=time.monotonic)
    session: SessionSource | None = None


@dataclass(frozen=True)
class Provides:
    """``comp`` is the concrete :class:`StreamConsumer`."""

    comp: StreamConsumer


def _check_component(consumer: StreamConsumer) -> Component:
    """Never called: makes mypy check that ``StreamConsumer`` implements ``Component``, since
    ``Provides.comp`` is typed as the concrete class."""
    return consumer


def new_component(requires: Requires) -> Provides:
    """Build the consumer; it connects when the lifecycle starts and disconnects when it stops.

    Raises ValueError naming the parameter when ``params`` cannot work (no credentials, ...).
    """
    consumer = StreamConsumer(
        requires.params,
        ConsumerMetrics(requires.telemetry),
        rand=requires.rand,
        clock=requires.clock,
        session_source=requires.session,
    )
    requires.lifecycle.append(Hook("configstream consumer", on_start=consumer.start, on_stop=consumer.stop))
    return Provides(comp=consumer)
