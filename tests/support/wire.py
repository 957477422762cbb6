"""Builders of ``datadog.model.v1`` config events, as a core agent sends them on the config stream.

Values go through :func:`pkg.protoconv.values.to_value`, as the core's do; every event's origin is
``test``.
"""

from __future__ import annotations

from typing import Any

from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.values import to_value

__all__ = ["Event", "batch", "progress", "setting", "snapshot", "update"]

Event = configstream_pb2.ConfigEvent


def setting(
    key: str, value: Any, source: str = "file", unset_source: str = ""
) -> configstream_pb2.ConfigSetting:
    msg = configstream_pb2.ConfigSetting(key=key, source=source, unset_source=unset_source)
    msg.value.CopyFrom(to_value(value))
    return msg


def snapshot(
    seq: int, settings: dict[str, Any] | None = None, source: str = "file", epoch: str = ""
) -> Event:
    """A snapshot of ``settings`` (each at ``source``) at sequence id ``seq``."""
    items = [setting(k, v, source) for k, v in (settings or {}).items()]
    return Event(
        snapshot=configstream_pb2.ConfigSnapshot(origin="test", sequence_id=seq, settings=items, epoch=epoch)
    )


def update(
    seq: int,
    key: str,
    value: Any,
    source: str = "agent-runtime",
    unset_source: str = "",
    *,
    previous: int = 0,
) -> Event:
    """An update; ``previous``: its ``previous_sequence_id`` (what a core sends a filtered client)."""
    return Event(
        update=configstream_pb2.ConfigUpdate(
            origin="test",
            sequence_id=seq,
            setting=setting(key, value, source, unset_source),
            previous_sequence_id=previous,
        )
    )


def batch(*updates: Event) -> Event:
    """One batch message of the updates built by :func:`update`, in order."""
    return Event(batch=configstream_pb2.ConfigBatch(updates=[u.update for u in updates]))


def progress(seq: int, epoch: str = "") -> Event:
    return Event(progress=configstream_pb2.ConfigProgress(sequence_id=seq, epoch=epoch))
