"""A test double of the config stream consumer: a view the test fills and changes by hand.

Usage in the tests of a component that reads streamed config::

    consumer = MockConsumer({"log_level": "info"})          # ready, every value from source "file"
    changes = consumer.subscribe(keys=["log_level"])
    consumer.set("log_level", "debug")                       # publishes ChangeEvent(..., "agent-runtime")
    assert consumer.reader().get_string("log_level") == "debug"
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping
from typing import Any

from comp.core.configstreamconsumer.def_ import (
    ChangeEvent,
    ConsumerState,
    ConsumerStats,
    Liveness,
    NotReadyError,
    Reader,
    Subscription,
)
from comp.core.configstreamconsumer.impl.streamfilter import StreamFilter, filter_names
from comp.core.configstreamconsumer.impl.subscriptions import SubscriptionHub
from comp.core.configstreamconsumer.impl.view import ViewHolder, ViewReader, same_setting
from pkg.config.change import Setting
from pkg.config.sources import Source

__all__ = ["MockConsumer"]


class MockConsumer:
    """Implements the consumer ``Component`` without any network.

    ``settings`` values are plain values (taken from ``source``) or :class:`Setting` objects. Without
    ``settings`` the consumer is not ready until :meth:`set_view` is called. ``keys`` / ``prefixes``:
    the stream filter, as the real consumer's (other keys are dropped, reading one raises
    :class:`~comp.core.configstreamconsumer.def_.KeyNotStreamedError`).
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        source: Source = Source.FILE,
        sequence_id: int = 1,
        queue_size: int = 1024,
        keys: Collection[str] | None = None,
        prefixes: Collection[str] | None = None,
    ) -> None:
        self._filter = StreamFilter(filter_names("keys", keys), filter_names("prefixes", prefixes))
        self._holder = ViewHolder()
        self._reader = ViewReader(self._holder, stream_filter=self._filter)
        self._last_event_at: float | None = None
        self._hub = SubscriptionHub(queue_size)
        self._ready = asyncio.Event()
        self._state = ConsumerState.CONNECTING
        self.started = False
        self.stopped = False
        if settings is not None:
            self.set_view(settings, source=source, sequence_id=sequence_id)

    def set_view(
        self, settings: Mapping[str, Any], *, source: Source = Source.FILE, sequence_id: int | None = None
    ) -> list[ChangeEvent]:
        """Replace the whole view as a snapshot would; the consumer becomes ready.

        ``sequence_id`` defaults to 1 for the first view, then to the next id. Returns the changes,
        which subscribers receive unless this is the first view.
        """
        view = {
            k: v if isinstance(v, Setting) else Setting(v, source)
            for k, v in settings.items()
            if self._filter.matches(k)
        }
        self._last_event_at = time.monotonic()
        if sequence_id is None:
            sequence_id = self._holder.sequence_id + 1 if self._ready.is_set() else 1
        seq = sequence_id
        changes = self._holder.replace(view, seq)
        self._state = ConsumerState.READY
        if self._ready.is_set():
            self._hub.publish(changes)
        self._ready.set()
        return changes

    def set(self, key: str, value: Any, source: Source = Source.AGENT_RUNTIME) -> ChangeEvent | None:
        """Change one key as an update would (next sequence id); subscribers receive the change.

        Returns the change, or None (and no new sequence id) when nothing changed."""
        return self._apply(key, Setting(value, source))

    def unset(self, key: str) -> ChangeEvent | None:
        """Remove one key as an unset that left no value would."""
        return self._apply(key, None)

    def set_state(self, state: ConsumerState) -> None:
        """Pretend the connection changed (the view is kept, as the real consumer keeps it)."""
        self._state = state

    def _apply(self, key: str, setting: Setting | None) -> ChangeEvent | None:
        if not self._filter.matches(key):
            return None  # the core would not stream it
        self._last_event_at = time.monotonic()
        if same_setting(self._holder.view.get(key), setting):
            return None  # like the core agent: no change, no new sequence id
        change = self._holder.apply(key, setting, self._holder.sequence_id + 1)
        if change is not None:
            self._hub.publish((change,))
        return change

    # --- Component -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        self._hub.close()
        self._state = ConsumerState.DISCONNECTED

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the API
        if self._ready.is_set():
            return
        limit = 30.0 if timeout is None else timeout
        try:
            await asyncio.wait_for(self._ready.wait(), limit)
        except TimeoutError:
            raise NotReadyError(
                f"config stream not ready after {float(limit)}s: the mock consumer has no view yet"
            ) from None

    def reader(self) -> Reader:
        return self._reader

    def subscribe(self, keys: Collection[str] | None = None, prefix: str | None = None) -> Subscription:
        return self._hub.subscribe(keys, prefix)

    @property
    def state(self) -> ConsumerState:
        return self._state

    @property
    def sequence_id(self) -> int:
        return self._holder.sequence_id

    @property
    def stats(self) -> ConsumerStats:
        return ConsumerStats(0, 0, int(self._ready.is_set()), 0, 0, 0, 0, 0, (), None)

    @property
    def liveness(self) -> Liveness:
        """The last view change as the last event; the mock sends no progress."""
        return Liveness(self._last_event_at, None, None, None)
