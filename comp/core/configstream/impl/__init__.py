"""Implementation of the config stream producer (see :mod:`.producer` for how it works).

Tunables, read once at construction (an undeclared key falls back to its default):

- ``remote_agent.configstream.history_size`` (10000): updates kept to catch up lagging subscribers
  (0: a lagging subscriber always gets a fresh snapshot).
- ``remote_agent.configstream.queue_size`` (1000): events queued per subscriber before it is marked
  lagging.
- ``remote_agent.configstream.history_max_bytes`` (32 MiB): serialized bytes the history holds at most
  (0: like ``history_size`` 0).
- ``remote_agent.configstream.queue_max_bytes`` (8 MiB): serialized bytes queued per subscriber before
  it is marked lagging (an empty queue still takes one event of any size).
- ``agent_ipc.grpc_max_message_size`` (4 MiB): the largest event sent; a larger update is replaced by
  a snapshot for every subscriber (see :mod:`.producer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from comp.core.config import def_ as config_def
from comp.core.configstream.def_ import Component
from comp.core.configstream.impl.metrics import TELEMETRY_NAMESPACE, ResyncCause, stream_metrics
from comp.core.configstream.impl.producer import (
    DEFAULT_HISTORY_MAX_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_ORIGIN,
    DEFAULT_QUEUE_MAX_BYTES,
    ConfigStreamProducer,
)
from comp.core.configstream.impl.subscription import StreamSubscription
from comp.core.telemetry import def_ as telemetry_def
from pkg.config.errors import ConfigValueError
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = [
    "DEFAULT_HISTORY_MAX_BYTES",
    "DEFAULT_HISTORY_SIZE",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_ORIGIN",
    "DEFAULT_QUEUE_MAX_BYTES",
    "DEFAULT_QUEUE_SIZE",
    "HISTORY_MAX_BYTES_KEY",
    "HISTORY_SIZE_KEY",
    "MAX_MESSAGE_SIZE_KEY",
    "QUEUE_MAX_BYTES_KEY",
    "QUEUE_SIZE_KEY",
    "TELEMETRY_NAMESPACE",
    "ConfigStreamProducer",
    "Provides",
    "Requires",
    "ResyncCause",
    "StreamSubscription",
    "new_component",
]

HISTORY_SIZE_KEY = "remote_agent.configstream.history_size"
DEFAULT_HISTORY_SIZE = 10_000
QUEUE_SIZE_KEY = "remote_agent.configstream.queue_size"
DEFAULT_QUEUE_SIZE = 1_000
HISTORY_MAX_BYTES_KEY = "remote_agent.configstream.history_max_bytes"
QUEUE_MAX_BYTES_KEY = "remote_agent.configstream.queue_max_bytes"
MAX_MESSAGE_SIZE_KEY = "agent_ipc.grpc_max_message_size"


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component
    telemetry: telemetry_def.Component


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Build the producer; its start hook listens to the config, its stop hook closes every stream.

    Raises ConfigValueError when a tunable is out of range.
    """
    config = requires.config
    producer = ConfigStreamProducer(
        config,
        stream_metrics(requires.telemetry.meter(TELEMETRY_NAMESPACE)),
        history_size=_int_at_least(config, HISTORY_SIZE_KEY, DEFAULT_HISTORY_SIZE, 0),
        queue_size=_int_at_least(config, QUEUE_SIZE_KEY, DEFAULT_QUEUE_SIZE, 1),
        history_max_bytes=_int_at_least(config, HISTORY_MAX_BYTES_KEY, DEFAULT_HISTORY_MAX_BYTES, 0),
        queue_max_bytes=_int_at_least(config, QUEUE_MAX_BYTES_KEY, DEFAULT_QUEUE_MAX_BYTES, 1),
        max_event_bytes=_int_at_least(config, MAX_MESSAGE_SIZE_KEY, DEFAULT_MAX_EVENT_BYTES, 1),
    )
    requires.lifecycle.append(Hook("config stream", on_start=producer.start, on_stop=producer.stop))
    return Provides(comp=producer)


def _int_at_least(config: config_def.Component, key: str, default: int, minimum: int) -> int:
    if config.get(key) is None:
        return default
    value = config.get_int(key)
    if value < minimum:
        raise ConfigValueError(key, value, f"an integer >= {minimum}")
    return value
