"""Helpers shared by the producer's tests: read events, rebuild a view, read metrics, hold changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from comp.core.configstream.def_ import EventKind, StreamEvent
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import ConfigChange, UpdateCallback
from pkg.config.model import LayeredConfig
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.values import from_value, to_value

__all__ = ["HeldConfig", "View", "counter", "decode", "handed_over", "state_of", "take"]


def decode(event: StreamEvent) -> configstream_pb2.ConfigEvent:
    return configstream_pb2.ConfigEvent.FromString(event.payload)


async def take(events: AsyncIterator[StreamEvent], count: int = 1) -> list[StreamEvent]:
    async with asyncio.timeout(5):
        return [await anext(events) for _ in range(count)]


async def handed_over() -> None:
    """Wait until the loop ran every callback this thread handed to it so far (FIFO order)."""
    done = asyncio.Event()
    asyncio.get_running_loop().call_soon_threadsafe(done.set)
    async with asyncio.timeout(5):
        await done.wait()


class View:
    """What a client rebuilds from the stream; checks that update ids follow each other.

    ``sequence_id`` may be set before the first event to stand for a client that resumes.
    """

    def __init__(self) -> None:
        self.settings: dict[str, tuple[Any, str]] = {}
        self.sequence_id: int | None = None
        self.kinds: list[EventKind] = []

    def apply(self, event: StreamEvent) -> None:
        message = decode(event)
        self.kinds.append(event.kind)
        if message.WhichOneof("event") == "snapshot":
            assert event.kind is EventKind.SNAPSHOT
            self.settings = {s.key: (from_value(s.value), s.source) for s in message.snapshot.settings}
            self.sequence_id = message.snapshot.sequence_id
            return
        update = message.update
        assert event.kind is EventKind.UPDATE
        assert self.sequence_id is not None, "an update came before any snapshot"
        assert update.sequence_id == self.sequence_id + 1
        self.sequence_id = update.sequence_id
        if update.setting.source:
            self.settings[update.setting.key] = (from_value(update.setting.value), update.setting.source)
        else:
            self.settings.pop(update.setting.key, None)

    async def follow(self, events: AsyncIterator[StreamEvent], until: int) -> None:
        async with asyncio.timeout(10):
            while self.sequence_id != until:
                self.apply(await anext(events))


def state_of(config: LayeredConfig) -> dict[str, tuple[Any, str]]:
    settings, _ = config.flattened_with_sequence_id()
    return {k: (from_value(to_value(s.value)), str(s.source)) for k, s in settings.items()}


def counter(telemetry: MockTelemetry, name: str, **attributes: Any) -> float:
    return telemetry.value(f"configstream.{name}", **attributes) or 0


class HeldConfig(LayeredConfig):
    """A real config whose change notifications wait until the test releases them, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, ConfigChange] = {}
        self._listeners: list[UpdateCallback] = []

    def on_update(self, callback: UpdateCallback) -> Callable[[], None]:
        self._listeners.append(callback)
        unsubscribe = super().on_update(lambda change: self.held.__setitem__(change.sequence_id, change))

        def both() -> None:
            unsubscribe()
            self._listeners.remove(callback)

        return both

    def release(self, *sequence_ids: int) -> None:
        for sequence_id in sequence_ids:
            change = self.held.pop(sequence_id)
            for listener in list(self._listeners):
                listener(change)
