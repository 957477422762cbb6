"""``wait_ready`` without a reachable core agent fails at its timeout with an error that says where
the consumer tried to connect and why it failed (the Go consumer blocked startup for 60 s)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from comp.core.configstreamconsumer.def_ import ConsumerState, NotReadyError, Params
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import create_or_load_auth_token, create_or_load_ipc_certificate
from pkg.util.lifecycle import Lifecycle
from tests.e2e.consumer_support import running_consumer
from tests.e2e.harness import free_port

TIMEOUT = 1.5


async def _wait_ready_error(params: Params) -> tuple[str, float]:
    lifecycle = Lifecycle()
    consumer = new_component(Requires(lifecycle=lifecycle, telemetry=MockTelemetry(), params=params)).comp
    await lifecycle.start()
    try:
        start = time.monotonic()
        with pytest.raises(NotReadyError) as err:
            await consumer.wait_ready(TIMEOUT)
        elapsed = time.monotonic() - start
        assert consumer.state != ConsumerState.READY
        return str(err.value), elapsed
    finally:
        await lifecycle.stop()


async def test_no_core_agent_listening(tmp_path: Path) -> None:
    token, cert = tmp_path / "auth_token", tmp_path / "ipc_cert.pem"
    create_or_load_auth_token(token)
    create_or_load_ipc_certificate(cert)
    address = f"127.0.0.1:{free_port()}"
    message, elapsed = await _wait_ready_error(
        Params(ipc_address=address, auth_token_file=token, cert_file=cert)
    )
    expected = f"config stream not ready after {TIMEOUT}s: cannot reach core agent at {address}: "
    assert message.startswith(expected)
    assert message.endswith("Connection refused")
    assert TIMEOUT <= elapsed < TIMEOUT + 1.0


async def test_the_core_agent_never_ran(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    params = Params(
        ipc_address=address, auth_token_file=tmp_path / "auth_token", cert_file=tmp_path / "ipc_cert.pem"
    )
    message, elapsed = await _wait_ready_error(params)
    assert message.startswith(
        f"config stream not ready after {TIMEOUT}s: cannot connect to core agent at {address}"
    )
    assert f"auth token file {tmp_path / 'auth_token'} does not exist" in message
    assert TIMEOUT <= elapsed < TIMEOUT + 1.0


async def test_a_core_agent_that_was_stopped(start_agent: object) -> None:
    agent = start_agent(telemetry=False)  # type: ignore[operator]
    agent.stop()
    async with running_consumer(agent) as (consumer, _telemetry):
        with pytest.raises(
            NotReadyError, match=f"cannot reach core agent at {agent.address}: .*Connection refused"
        ):
            await consumer.wait_ready(TIMEOUT)
