"""Helpers of the stateful end-to-end test (this module holds no tests).

- :class:`LoopThread` runs one asyncio loop in a thread, so that the synchronous rules of a hypothesis
  state machine can drive gRPC clients that keep running between the rules.
- :class:`RawSubscriber` is a raw ``StreamConfigEvents`` client that registers, refreshes its session
  like a remote agent, reconnects on demand and checks that sequence ids never go backwards within one
  run of the core (a *generation*: the harness starts a new one at each restart).
- :class:`LibraryConsumer` is the real consumer library behind a :class:`relay.Relay`, so that its
  connection can be cut.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import grpc

from comp.core.configstreamconsumer.def_ import Component as StreamConsumer
from comp.core.configstreamconsumer.def_ import ConsumerState
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from tests.e2e.consumer_support import running_consumer
from tests.e2e.harness import AgentProcess
from tests.e2e.relay import Relay
from tests.e2e.stream_support import WAIT, StreamClient, narrow_channel, register
from tests.support.polling import eventually

__all__ = ["LibraryConsumer", "LoopThread", "RawSubscriber"]

T = TypeVar("T")

REFRESH_INTERVAL = 0.2
"""Seconds between session refreshes of a raw subscriber (its idle timeout is a few times longer)."""


class LoopThread:
    """An asyncio loop running in a daemon thread until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="stateful-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run ``coro`` on the loop and return its result; AssertionError naming ``what`` on timeout."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"timed out after {timeout:g}s: {what}") from None

    def call(self, function: Callable[[], T], what: str, timeout: float = 10.0) -> T:
        """Call ``function`` on the loop's thread (where the clients change their state)."""

        async def call() -> T:
            return function()

        return self.run(call(), timeout, what)

    def close(self, timeout: float = 10.0) -> None:
        """Cancel what still runs on the loop, then stop and close it."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            self.run(cancel_all(), timeout, "cancelling the loop's tasks")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


def _sequence_id(client: StreamClient, index: int) -> int:
    event = client.events[index]
    body = event.snapshot if event.WhichOneof("event") == "snapshot" else event.update
    return int(body.sequence_id)


class RawSubscriber:
    """A raw stream client of the core with its own channel (``window``: a narrow receive window, so
    that pausing it backs the core's sends up quickly). Use its methods inside the loop."""

    def __init__(self, name: str, *, window: int | None = None) -> None:
        self.name = name
        self.window = window
        self.session_id = ""
        self.calls: list[tuple[int, StreamClient]] = []
        self._channel: grpc.aio.Channel | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._checked: dict[int, tuple[int, int]] = {}  # call index -> (events, violations) checked
        self._last_by_generation: dict[int, int] = {}
        self.problems: list[str] = []

    @property
    def stream(self) -> StreamClient:
        assert self.calls, f"{self.name} never connected"
        return self.calls[-1][1]

    @property
    def paused(self) -> bool:
        return bool(self.calls) and not self.stream.gate.is_set()

    async def connect(self, agent: AgentProcess, generation: int, *, new_session: bool = True) -> None:
        """(Re)open the stream on a new channel, registering first unless ``new_session`` is false (and
        when the old session is gone: on a busy machine a refresh may come too late); returns once
        its snapshot arrived."""
        await self.close()
        self._channel = narrow_channel(agent, self.window) if self.window else agent.aio_channel()
        if new_session or not self.session_id:
            self.session_id = await register(agent, self._channel, self.name)
        self.refresh_sessions(agent)
        client = StreamClient(agent, self._channel, self.session_id, name=self.name).start()
        self.calls.append((generation, client))
        await eventually(
            lambda: bool(client.snapshots) or client.ended, "the first snapshot", WAIT, detail=client.state
        )
        gone = client.error is not None and client.error.code() == grpc.StatusCode.PERMISSION_DENIED
        if not client.snapshots and gone and not new_session:
            await self.connect(agent, generation, new_session=True)
            return
        await client.wait_snapshot()

    def refresh_sessions(self, agent: AgentProcess) -> None:
        """Refresh the session every :data:`REFRESH_INTERVAL` seconds, as a remote agent does."""
        self.stop_refreshing()
        assert self._channel is not None
        self._refresh = asyncio.create_task(self._refresh_loop(agent, self._channel, self.session_id))

    def stop_refreshing(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    async def _refresh_loop(self, agent: AgentProcess, channel: grpc.aio.Channel, session_id: str) -> None:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        request = remoteagent_pb2.RefreshRemoteAgentRequest(session_id=session_id)
        while True:
            try:
                await stub.RefreshRemoteAgent(request, metadata=agent.auth_metadata(), timeout=2)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return  # evicted: the stream ends, the next connect registers again
            await asyncio.sleep(REFRESH_INTERVAL)  # the refresh cadence, not a wait for a condition

    def pause(self) -> None:
        self.stream.gate.clear()

    def resume(self) -> None:
        self.stream.gate.set()

    def check_order(self) -> list[str]:
        """New problems since the last call: events out of order within a call (see StreamClient), or
        a sequence id lower than one seen before in the same generation of the core."""
        found: list[str] = []
        for index, (generation, client) in enumerate(self.calls):
            start, reported = self._checked.get(index, (0, 0))
            end = len(client.events)
            found += [f"{self.name} call {index + 1}: {v}" for v in client.violations[reported:]]
            last = self._last_by_generation.get(generation)
            for position in range(start, end):
                sequence_id = _sequence_id(client, position)
                if last is not None and sequence_id < last:
                    found.append(
                        f"{self.name} call {index + 1}: sequence id {sequence_id} after {last} "
                        f"in core generation {generation}"
                    )
                last = sequence_id if last is None else max(last, sequence_id)
            if last is not None:
                self._last_by_generation[generation] = last
            self._checked[index] = (end, len(client.violations))
        self.problems += found
        return found

    async def close(self) -> None:
        """End the stream and the refreshes, close the channel."""
        self.stop_refreshing()
        if self.calls:
            await self.stream.cancel()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


class LibraryConsumer:
    """The consumer library, dialing the core through a relay that :meth:`cut` disconnects."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stack = contextlib.AsyncExitStack()
        self.relay: Relay | None = None
        self.consumer: StreamConsumer | None = None
        self._last: tuple[str, int] | None = None
        self.problems: list[str] = []

    async def start(self, agent: AgentProcess) -> None:
        self.relay = await self._stack.enter_async_context(Relay(agent.port))
        consumer, _telemetry = await self._stack.enter_async_context(
            running_consumer(agent, address=self.relay.address, name=self.name, display_name=self.name)
        )
        self.consumer = consumer
        await consumer.wait_ready(20.0)

    def cut(self) -> None:
        """Drop the consumer's connection; it reconnects (and resumes) by itself."""
        assert self.relay is not None
        self.relay.cut()
        self.relay.restore()

    @property
    def ready(self) -> bool:
        return self.consumer is not None and self.consumer.state == ConsumerState.READY

    @property
    def sequence_id(self) -> int:
        assert self.consumer is not None
        return self.consumer.sequence_id

    @property
    def snapshots(self) -> int:
        """Snapshots the consumer applied so far."""
        return 0 if self.consumer is None else self.consumer.stats.snapshots

    def check_order(self) -> list[str]:
        """A problem when the view's sequence id went back within one epoch of the core."""
        assert self.consumer is not None
        epoch, sequence_id = self.consumer.stats.epoch, self.consumer.sequence_id
        found: list[str] = []
        if epoch and self._last is not None and self._last[0] == epoch and sequence_id < self._last[1]:
            found.append(f"{self.name}: sequence id {sequence_id} after {self._last[1]} in epoch {epoch}")
        if epoch:
            self._last = (epoch, sequence_id)
        self.problems += found
        return found

    async def close(self) -> None:
        await self._stack.aclose()
