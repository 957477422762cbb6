"""Registration of the remote agent component against a scripted core (real grpc.aio server, real
mTLS): a session the core no longer knows is replaced at once, never after a backoff delay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from comp.core.ipc.mock import MockIpc
from comp.core.remoteagent.def_ import Params
from comp.core.remoteagent.impl.agent import RegisteredAgent
from tests.support.fake_core import FakeCore
from tests.support.polling import eventually

WAIT = 10.0
SLOW_RETRY = 60.0
"""Retry delays no test waits out: a registration within WAIT proves the agent did not wait."""


@pytest.fixture
async def core() -> AsyncIterator[FakeCore]:
    fake = FakeCore(MockIpc())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def agent(core: FakeCore) -> AsyncIterator[RegisteredAgent]:
    params = Params(
        core_address=core.address,
        flavor="test-flavor",
        display_name="Test Agent",
        material=core.material(),
        refresh_interval=0.02,
        retry_initial=SLOW_RETRY,
        retry_cap=SLOW_RETRY,
    )
    registered = RegisteredAgent(params, ())
    await registered.start()
    try:
        yield registered
    finally:
        await registered.stop()


async def test_a_refresh_answered_not_found_registers_again_at_once(
    core: FakeCore, agent: RegisteredAgent
) -> None:
    first = await agent.current_session()
    await eventually(lambda: first in core.refreshes, "a refresh of the first session")
    core.sessions.clear()  # the core evicted the agent, or restarted
    await eventually(lambda: len(core.registrations) == 2, "a second registration")
    second = await agent.current_session()
    assert second != first and second in core.sessions


async def test_a_session_reported_lost_registers_again_at_once(
    core: FakeCore, agent: RegisteredAgent
) -> None:
    first = await agent.current_session()
    core.sessions.clear()
    agent.session_lost(first)
    assert agent.session_id is None
    await eventually(lambda: len(core.registrations) == 2, "a second registration")
    assert await agent.current_session() != first


async def test_a_stale_session_lost_report_is_ignored(core: FakeCore, agent: RegisteredAgent) -> None:
    first = await agent.current_session()
    agent.session_lost("another-session")
    assert agent.session_id == first
    await eventually(lambda: core.refreshes.count(first) >= 2, "refreshes go on with the same session")
    assert len(core.registrations) == 1


async def test_callers_fail_fast_while_the_agent_backs_off(core: FakeCore) -> None:
    material = replace(core.material(), token="not-the-token")
    params = Params(
        core_address=core.address,
        flavor="test-flavor",
        display_name="Test Agent",
        material=material,
        retry_initial=SLOW_RETRY,
        retry_cap=SLOW_RETRY,
    )
    registered = RegisteredAgent(params, ())
    await registered.start()
    try:
        with pytest.raises(ConnectionError, match="UNAUTHENTICATED"):
            await registered.current_session()
        assert registered.session_id is None and not core.registrations
    finally:
        await registered.stop()
