"""Implementation of the config stream producer (see :mod:`.producer` for how it works).

Tunables, read once at construction; their types, defaults and bounds are declared in
:mod:`pkg.config.schema`:

- ``remote_agent.configstream.history_size``: updates kept to catch up lagging subscribers
  (0: a lagging subscriber always gets a fresh snapshot).
- ``remote_agent.configstream.queue_size``: events queued per subscriber before it is marked
  lagging.
- ``remote_agent.configstream.history_max_bytes``: serialized bytes the history holds at most
  (0: like ``history_size`` 0).
- ``remote_agent.configstream.queue_max_bytes``: serialized bytes queued per subscriber before
  it is marked lagging (an empty queue still takes one event of any size).
- ``agent_ipc.grpc_max_message_size``: the largest event sent; a larger update is replaced by
  a snapshot for every subscriber (see :mod:`.producer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from comp.core.config import def_ as config_def
from comp.core.configstream.def_ import Component
from comp.core.configstream.impl.metrics import TELEMETRY_NAMESPACE, stream_metrics
from comp.core.configstream.impl.producer import ConfigStreamProducer
from comp.core.telemetry import def_ as telemetry_def
from pkg.config import keys
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


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

    Raises ConfigError when a tunable is not declared (a config on a schema without it).
    """
    config = requires.config
    producer = ConfigStreamProducer(
        config,
        stream_metrics(requires.telemetry.meter(TELEMETRY_NAMESPACE)),
        history_size=config.get_int(keys.CONFIGSTREAM_HISTORY_SIZE),
        queue_size=config.get_int(keys.CONFIGSTREAM_QUEUE_SIZE),
        history_max_bytes=config.get_int(keys.CONFIGSTREAM_HISTORY_MAX_BYTES),
        queue_max_bytes=config.get_int(keys.CONFIGSTREAM_QUEUE_MAX_BYTES),
        max_event_bytes=config.get_int(keys.GRPC_MAX_MESSAGE_SIZE),
    )
    requires.lifecycle.append(Hook("config stream", on_start=producer.start, on_stop=producer.stop))
    return Provides(comp=producer)
