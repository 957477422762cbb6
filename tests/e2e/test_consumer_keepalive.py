"""The consumer's keepalive against a real core agent: a hung core (SIGSTOP) is noticed and the last
good view keeps answering; a healthy core tolerates the most frequent pings a consumer may send.

A stopped process keeps its socket open (the kernel still acknowledges TCP), so without HTTP/2
pings the stream would stay silent forever; only the consumer's pings reveal the hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from comp.core.configstreamconsumer.def_ import MIN_KEEPALIVE_TIME, ConsumerState, Params
from comp.core.configstreamconsumer.impl import Requires, StreamConsumer, new_component
from comp.core.telemetry.mock import MockTelemetry
from pkg.util.lifecycle import Lifecycle
from tests.e2e.consumer_support import (
    E2E_BACKOFF,
    WAIT,
    SettingsClient,
    assert_view_matches,
    running_consumer,
    wait_for,
    wait_in_sync,
)
from tests.e2e.harness import AgentProcess

AgentFactory = Callable[..., AgentProcess]


async def test_a_hung_core_is_noticed_and_the_last_view_keeps_answering(start_agent: AgentFactory) -> None:
    agent = start_agent(telemetry=False)
    async with running_consumer(agent, name="e2e-hung", keepalive_time=1.0, keepalive_timeout=1.0) as (
        consumer,
        _telemetry,
    ):
        await consumer.wait_ready(WAIT)
        async with SettingsClient(agent) as client:
            await client.set({"log_level": "debug"})
        before = await wait_in_sync(consumer, agent)

        agent.send_signal(signal.SIGSTOP)
        try:
            noticed = await wait_for(lambda: consumer.state != ConsumerState.READY, "the hang to be noticed")
            print(f"hung core noticed after {noticed:.2f}s")  # shown with -s; about time + timeout
            assert "keepalive" in (consumer.stats.last_error or ""), consumer.stats.last_error
            assert_view_matches(consumer, before)  # the last good view keeps answering
            assert consumer.reader().get_string("log_level") == "debug"
        finally:
            agent.send_signal(signal.SIGCONT)

        after = await wait_in_sync(consumer, agent)
        assert_view_matches(consumer, after)
        assert consumer.stats.reconnects >= 1


class _CountingRelay:
    """A TCP relay to the core agent that counts the client's writes on each connection.

    On a silent stream the client writes nothing but its keepalive pings (one small TLS record
    each, gRPC disables Nagle), so the count after the stream is live tracks the pings sent.
    """

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0
        self.client_writes = 0

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        core_r, core_w = await asyncio.open_connection("127.0.0.1", self._target_port)
        try:
            # Ends quietly when cancelled by stop(): asyncio reports a connection task's exception.
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.gather(self._pipe(client_r, core_w, count=True), self._pipe(core_r, client_w))
        finally:
            client_w.close()
            core_w.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool = False) -> None:
        while data := await src.read(65536):
            if count:
                self.client_writes += 1
            dst.write(data)
            await dst.drain()
        dst.close()


@contextlib.asynccontextmanager
async def _consumer_via(address: str, agent: AgentProcess, **params: Any) -> AsyncIterator[StreamConsumer]:
    lifecycle = Lifecycle()
    consumer = new_component(
        Requires(
            lifecycle=lifecycle,
            telemetry=MockTelemetry(),
            params=Params(
                ipc_address=address,
                auth_token_file=agent.auth_token_path,
                cert_file=agent.ipc_cert_path,
                backoff=E2E_BACKOFF,
                **params,
            ),
        )
    ).comp
    await lifecycle.start()
    try:
        yield consumer
    finally:
        await lifecycle.stop()


PINGS = 6
"""Client writes awaited on the live, silent stream: a few may be flow-control frames sent right
after the snapshot, the rest are pings, well past the server's default tolerance of two."""


async def test_the_most_frequent_keepalive_is_not_punished_by_the_core(start_agent: AgentFactory) -> None:
    agent = start_agent(telemetry=False)
    relay = _CountingRelay(agent.port)
    await relay.start()
    try:
        # refresh_interval=0: no refresh calls, so the stream's connection carries only pings.
        async with _consumer_via(
            relay.address, agent, name="e2e-pings", keepalive_time=MIN_KEEPALIVE_TIME, refresh_interval=0
        ) as consumer:
            await consumer.wait_ready(WAIT)
            await wait_in_sync(consumer, agent)
            baseline = relay.client_writes
            started = time.monotonic()
            await wait_for(lambda: relay.client_writes >= baseline + PINGS, f"{PINGS} client writes")
            print(f"{relay.client_writes - baseline} writes in {time.monotonic() - started:.2f}s")
            # A GOAWAY (too_many_pings) would end the stream: a reconnect and a second connection.
            assert consumer.state == ConsumerState.READY
            assert consumer.stats.reconnects == 0, consumer.stats.last_error
            assert relay.connections == 1
    finally:
        await relay.stop()
