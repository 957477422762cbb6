"""Fixtures of the consumer's tests: a scripted core agent (:mod:`tests.support.fake_core`) and
consumers built on it, stopped after each test."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from comp.core.configstreamconsumer.def_ import BackoffPolicy, Component, Params
from comp.core.configstreamconsumer.impl import Provides, Requires, new_component
from comp.core.ipc.mock import MockIpc
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import ClientMaterial
from pkg.util.lifecycle import Lifecycle
from tests.support.fake_core import FakeCore


@pytest.fixture
def ipc(tmp_path: Path) -> MockIpc:
    """The core's credentials; their files are in ``tmp_path / "ipc"``."""
    return MockIpc(tmp_path / "ipc")


@pytest.fixture
async def core(ipc: MockIpc) -> AsyncIterator[FakeCore]:
    fake = FakeCore(ipc)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


FAST_BACKOFF = BackoffPolicy(initial=0.02, multiplier=2.0, cap=0.1, jitter=0.2, healthy_reset=60.0)


@dataclass
class Built:
    consumer: Component
    telemetry: MockTelemetry
    lifecycle: Lifecycle


MakeConsumer = Callable[..., Awaitable[Built]]


@pytest.fixture
def material(ipc: MockIpc) -> ClientMaterial:
    return ClientMaterial(token=ipc.token, cert_pem=ipc.cert_pem, key_pem=ipc.key_pem)


@pytest.fixture
async def make_consumer(material: ClientMaterial) -> AsyncIterator[MakeConsumer]:
    """``await make_consumer(address, **params)``: a started consumer, stopped after the test."""
    built: list[Built] = []

    async def make(
        address: str,
        *,
        start: bool = True,
        rand: Callable[[], float] = lambda: 0.5,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> Built:
        kw.setdefault("material", material)
        kw.setdefault("backoff", FAST_BACKOFF)
        kw.setdefault("name", "test-consumer")
        kw.setdefault("flavor", "test-flavor")
        kw.setdefault("display_name", "Test Consumer")
        telemetry = MockTelemetry()
        lifecycle = Lifecycle()
        provides: Provides = new_component(
            Requires(
                lifecycle=lifecycle,
                telemetry=telemetry,
                params=Params(ipc_address=address, rand=rand, clock=clock, **kw),
            )
        )
        item = Built(provides.comp, telemetry, lifecycle)
        built.append(item)
        if start:
            await lifecycle.start()
        return item

    yield make
    for item in built:
        await item.lifecycle.stop()


@pytest.fixture
def free_address() -> Iterator[str]:
    """A loopback address where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"127.0.0.1:{port}"


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Fails the test when it leaves a thread of the sync facade running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.name.startswith("config-stream")]
    assert leaked == []
