"""Test doubles of the public facades: a config stream with no core agent behind it.

For an agent written against :class:`~comp.core.configstreamconsumer.stream.ConfigStream`::

    config = MockConfigStream({"log_level": "info"})       # ready, every value from source "file"
    changes = config.changes(keys=["log_level"])
    config.set("log_level", "debug")                        # as a runtime change in the core would
    assert (await anext(changes)).new == "debug"
    config.disconnect()                                     # the core went away: the view stays
    config.reconnect({"log_level": "warn"})                 # a new snapshot: one event per changed key

:class:`MockSyncConfigStream` does the same for
:class:`~comp.core.configstreamconsumer.threaded.SyncConfigStream` (callbacks included); close it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from comp.core.configstreamconsumer.def_ import ChangeEvent, ConsumerState
from comp.core.configstreamconsumer.mock.consumer import MockConsumer
from comp.core.configstreamconsumer.stream import ConfigStream
from comp.core.configstreamconsumer.threaded import SyncConfigStream
from pkg.config.sources import Source
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["MockConfigStream", "MockSyncConfigStream"]


class MockConfigStream(ConfigStream):
    """A :class:`ConfigStream` over a :class:`MockConsumer`; use it inside a running event loop.

    ``settings``: the first snapshot (plain values from ``source``); None: not ready until
    :meth:`reconnect` gives one. ``keys`` / ``prefixes``: the stream filter, as
    ``connect_config_stream`` takes it (reading another key raises ``KeyNotStreamedError``).
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        source: Source = Source.FILE,
        keys: Collection[str] | None = None,
        prefixes: Collection[str] | None = None,
    ) -> None:
        self.mock = MockConsumer(settings, source=source, keys=keys, prefixes=prefixes)
        super().__init__(self.mock)

    def set(self, key: str, value: Any, source: Source = Source.AGENT_RUNTIME) -> ChangeEvent | None:
        """Change one key as an update from the core would; subscribers receive the change."""
        return self.mock.set(key, value, source)

    def unset(self, key: str) -> ChangeEvent | None:
        """Remove one key as an unset that left no value in the core would."""
        return self.mock.unset(key)

    def disconnect(self) -> None:
        """The core became unreachable: the state is ``disconnected``, the view keeps answering."""
        self.mock.set_state(ConsumerState.DISCONNECTED)

    def reconnect(self, settings: Mapping[str, Any] | None = None, *, source: Source = Source.FILE) -> None:
        """The stream is live again; with ``settings``, a new snapshot replaces the view and each key
        that differs is published as a change (the first snapshot publishes nothing)."""
        if settings is not None:
            self.mock.set_view(settings, source=source)
        self.mock.set_state(ConsumerState.READY)

    async def close(self) -> None:
        """Stop as leaving ``connect_config_stream`` does: every ``changes()`` iteration ends."""
        await self.mock.stop()


class MockSyncConfigStream(SyncConfigStream):
    """A :class:`SyncConfigStream` over a :class:`MockConsumer`, running on the facade's own thread.

    The test methods return once subscribers have the change queued; callbacks then run on the
    facade's callback thread, as they do for the real stream.
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        source: Source = Source.FILE,
        keys: Collection[str] | None = None,
        prefixes: Collection[str] | None = None,
    ) -> None:
        def build(lifecycle: Lifecycle) -> MockConsumer:
            consumer = MockConsumer(settings, source=source, keys=keys, prefixes=prefixes)
            lifecycle.append(Hook("mock config stream", on_start=consumer.start, on_stop=consumer.stop))
            return consumer

        self._open(build, "mock")

    @property
    def mock(self) -> MockConsumer:
        consumer = self._consumer
        assert isinstance(consumer, MockConsumer)
        return consumer

    def set(self, key: str, value: Any, source: Source = Source.AGENT_RUNTIME) -> ChangeEvent | None:
        """Change one key as an update from the core would."""
        return self._on_loop(lambda: self.mock.set(key, value, source))

    def unset(self, key: str) -> ChangeEvent | None:
        """Remove one key as an unset that left no value in the core would."""
        return self._on_loop(lambda: self.mock.unset(key))

    def disconnect(self) -> None:
        """The core became unreachable: the state is ``disconnected``, the view keeps answering."""
        self._on_loop(lambda: self.mock.set_state(ConsumerState.DISCONNECTED))

    def reconnect(self, settings: Mapping[str, Any] | None = None, *, source: Source = Source.FILE) -> None:
        """The stream is live again; with ``settings`` a new snapshot replaces the view."""

        def apply() -> None:
            if settings is not None:
                self.mock.set_view(settings, source=source)
            self.mock.set_state(ConsumerState.READY)

        self._on_loop(apply)
