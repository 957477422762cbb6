"""The config stream for programs that do not run asyncio: :class:`SyncConfigStream`.

The facade owns two threads: one runs an event loop with the consumer component, the other runs
the change callbacks one at a time (so a slow callback never holds up the stream). Reads happen on
the caller's thread: each one reads one whole view, swapped by reference, never half of one::

    with SyncConfigStream(name="my-agent") as config:    # starts connecting in the background
        config.wait_ready(10.0)                           # NotReadyError after 10 s
        level = config.get_string("log_level")
        config.on_change(lambda change: print(change.key, change.new), prefix="logs_config.")
        ...
    # close() (or leaving the block) stops the stream and joins both threads

A callback that raises is logged and the next change is still delivered. ``close()`` must not be
called from a callback (it waits for the callbacks to finish).

``status=``, ``flare=`` and ``telemetry=`` are plain functions answering the core's queries (see
:mod:`comp.core.configstreamconsumer.serving`): each call runs on a worker thread, so they may run
at the same time as each other and as the caller's threads (guard shared state with a lock), and
never hold up the stream or the callbacks::

    def status():
        return {"state": "ok"}, {"queue": {"depth": str(queue.qsize())}}

    with SyncConfigStream(name="my-agent", status=status) as config:
        ...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from comp.core.configstreamconsumer import def_ as consumer_def
from comp.core.configstreamconsumer.reads import ConsumerReads, optional_path
from comp.core.configstreamconsumer.serving import FlareFiles, Sections, agent_serving
from comp.core.configstreamconsumer.stream import (
    DEFAULT_READY_TIMEOUT,
    Location,
    build_consumer,
    config_stream_params,
)
from pkg.util.lifecycle import Lifecycle

__all__ = ["ChangeCallback", "SyncConfigStream"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

ChangeCallback = Callable[[consumer_def.ChangeEvent], object]
ConsumerFactory = Callable[[Lifecycle], consumer_def.Component]


class SyncConfigStream(ConsumerReads):
    """A config stream run on a background thread; reads, waits and callbacks from any thread.

    ``name``, the location arguments, the filter (``keys``, ``prefixes``), ``max_message_bytes`` and
    ``listen`` are those of :func:`comp.core.configstreamconsumer.stream.connect_config_stream`;
    ``status``, ``flare`` and ``telemetry`` are plain functions, called on a worker thread. The
    constructor starts connecting (and serving) and returns at once; it raises (leaving no thread
    behind) on unusable arguments.
    """

    def __init__(
        self,
        name: str,
        *,
        config_file: Path | str | None = None,
        state_dir: Path | str | None = None,
        address: str | None = None,
        auth_token_file: Path | str | None = None,
        cert_file: Path | str | None = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        flavor: str | None = None,
        display_name: str | None = None,
        keys: Collection[str] | None = None,
        prefixes: Collection[str] | None = None,
        max_message_bytes: int | None = None,
        status: Callable[[], Sections] | None = None,
        flare: Callable[[], FlareFiles] | None = None,
        telemetry: Callable[[], str] | None = None,
        listen: str | None = None,
    ) -> None:
        params = config_stream_params(
            name,
            Location(
                config_file=optional_path(config_file),
                state_dir=optional_path(state_dir),
                address=address,
                auth_token_file=optional_path(auth_token_file),
                cert_file=optional_path(cert_file),
            ),
            environ=environ,
            flavor=flavor,
            display_name=display_name,
            ready_timeout=ready_timeout,
            keys=keys,
            prefixes=prefixes,
            max_message_bytes=max_message_bytes,
        )
        serving = agent_serving(
            params, status=status, flare=flare, telemetry=telemetry, listen=listen, sync=True
        )
        self._open(lambda lifecycle: build_consumer(params, lifecycle, serving), name)

    @classmethod
    def from_factory(cls, factory: ConsumerFactory, name: str = "config-stream") -> SyncConfigStream:
        """A facade over the component ``factory(lifecycle)`` builds on the facade's loop (tests use a
        mock component this way)."""
        stream = cls.__new__(cls)
        stream._open(factory, name)
        return stream

    def _open(self, factory: ConsumerFactory, name: str) -> None:
        self._closed = False
        self._callback_thread: int | None = None
        self._close_lock = threading.Lock()
        self._lifecycle = Lifecycle()
        self._tasks: set[asyncio.Task[None]] = set()
        self._callbacks = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"config-stream callbacks {name}"
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"config-stream {name}", daemon=True)
        self._thread.start()
        try:
            self._consumer = self._call(self._start(factory))
        except BaseException:
            self._stop_threads()
            raise

    async def _start(self, factory: ConsumerFactory) -> consumer_def.Component:
        consumer = factory(self._lifecycle)
        await self._lifecycle.start()
        return consumer

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def _call(self, coro: Awaitable[_T], timeout: float | None = None) -> _T:
        """Run ``coro`` on the facade's loop and wait for its result (or exception)."""

        async def run() -> _T:
            return await coro

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn()`` on the facade's loop thread and return its result."""

        async def run() -> _T:
            return fn()

        return self._call(run())

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the config stream is closed")

    # --- reads (any thread) ----------------------------------------------------------------------

    # --- waiting and callbacks -------------------------------------------------------------------

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until a snapshot has been applied; NotReadyError (naming the address and the last
        failure) after ``timeout`` seconds (default: ``ready_timeout``)."""
        self._check_open()
        self._call(self._consumer.wait_ready(timeout))

    def on_change(
        self,
        callback: ChangeCallback,
        *,
        keys: Collection[str] | None = None,
        prefix: str | None = None,
    ) -> Callable[[], None]:
        """Call ``callback(change)`` for every change of ``keys`` or of keys starting with ``prefix``
        (all keys when neither), from this call on, in order, on the facade's callback thread.
        Returns a function that unsubscribes (idempotent)."""
        self._check_open()

        async def subscribe() -> consumer_def.Subscription:
            subscription = self._consumer.subscribe(keys, prefix)
            task = asyncio.create_task(self._deliver(subscription, callback))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return subscription

        subscription = self._call(subscribe())

        def unsubscribe() -> None:
            if not self._closed:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(subscription.close)

        return unsubscribe

    async def _deliver(self, subscription: consumer_def.Subscription, callback: ChangeCallback) -> None:
        loop = asyncio.get_running_loop()
        async for change in subscription:
            await loop.run_in_executor(self._callbacks, self._invoke, callback, change)

    def _invoke(self, callback: ChangeCallback, change: consumer_def.ChangeEvent) -> None:
        self._callback_thread = threading.get_ident()
        try:
            callback(change)
        except Exception:
            _log.exception("config stream change callback %r failed for %r", callback, change.key)

    # --- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the stream, end the callbacks (a running one is waited for) and join the threads.
        Idempotent; reads keep answering with the last view afterwards."""
        if threading.get_ident() == self._callback_thread:
            raise RuntimeError("close() cannot be called from a change callback")
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._call(self._shutdown())
        finally:
            self._stop_threads()

    async def _shutdown(self) -> None:
        await self._lifecycle.stop()  # ends every subscription: the delivery tasks finish
        if self._tasks:
            await asyncio.wait(self._tasks)

    def _stop_threads(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._callbacks.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
