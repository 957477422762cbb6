"""Who may open ``StreamConfigEvents`` on a real core agent: the session checks, in order, with the
Go agent's codes and messages, and the end of a stream whose session is evicted."""

from __future__ import annotations

import uuid

import grpc
import pytest

from pkg.ipc import auth_metadata
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from tests.e2e.harness import AgentFactory, AgentProcess
from tests.e2e.stream_support import StreamClient, register, wait_metrics

pytestmark = pytest.mark.e2e

MISSING = (
    "session_id required in metadata: remote agent must register with RAR before subscribing to config stream"
)


async def _refused(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    request_session_id: str = "",
) -> tuple[grpc.StatusCode, str]:
    """The status a stream ends with before its first event."""
    call = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(
        configstream_pb2.ConfigStreamRequest(name="e2e", session_id=request_session_id),
        metadata=metadata,
        timeout=5,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call.read()
    return err.value.code(), err.value.details() or ""


async def test_session_checks_with_exact_codes_and_messages(agent: AgentProcess) -> None:
    token = agent.auth_metadata()
    async with agent.aio_channel() as channel:
        session_id = await register(agent, channel)
        unknown = str(uuid.uuid4())

        assert await _refused(channel, token) == (grpc.StatusCode.UNAUTHENTICATED, MISSING)
        assert await _refused(channel, (*token, ("session_id", ""))) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "session_id cannot be empty",
        )
        assert await _refused(channel, (*token, ("session_id", unknown))) == (
            grpc.StatusCode.PERMISSION_DENIED,
            f"session_id '{unknown}' not found",
        )
        assert await _refused(channel, token, request_session_id=unknown) == (
            grpc.StatusCode.PERMISSION_DENIED,
            f"session_id '{unknown}' not found",
        )
        # The metadata entry wins over request field 2.
        assert await _refused(channel, (*token, ("session_id", unknown)), request_session_id=session_id) == (
            grpc.StatusCode.PERMISSION_DENIED,
            f"session_id '{unknown}' not found",
        )
        # The bearer token is checked before any of it.
        assert await _refused(channel, (*auth_metadata("0" * 64), ("session_id", session_id))) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid auth token",
        )

        # Older clients send the session id in request field 2 only.
        older = StreamClient(agent, channel, session_id, in_request=True).start()
        current = StreamClient(agent, channel, session_id).start()
        try:
            assert (await older.wait_snapshot()).sequence_id == (await current.wait_snapshot()).sequence_id
        finally:
            await older.cancel()
            await current.cancel()
        assert older.error is None and current.error is None
    await wait_metrics(agent, lambda m: m.value("configstream_subscribers") == 0, "no subscriber")


async def test_disabled_registry_is_unimplemented_even_without_a_session(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.enabled": False})
    token = agent.auth_metadata()
    expected = (grpc.StatusCode.UNIMPLEMENTED, "remote agent registry not enabled")
    async with agent.aio_channel() as channel:
        assert await _refused(channel, token) == expected
        assert await _refused(channel, (*token, ("session_id", ""))) == expected
        assert await _refused(channel, (*token, ("session_id", str(uuid.uuid4())))) == expected


async def test_evicted_session_ends_the_open_stream(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.idle_timeout": "500ms"})
    async with agent.aio_channel() as channel:
        session_id = await register(agent, channel)
        client = StreamClient(agent, channel, session_id).start()  # opening it refreshes the session
        await client.wait_snapshot()
        # Nothing refreshes the session any more: it is evicted within about a second and a half.
        error = await client.wait_ended()
        assert error is not None
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert session_id in (error.details() or "")
        assert len(client.snapshots) == 1
        await wait_metrics(agent, lambda m: m.value("configstream_subscribers") == 0, "no subscriber")

        # The session is gone: the next stream is refused until the client registers again.
        assert await _refused(channel, (*agent.auth_metadata(), ("session_id", session_id))) == (
            grpc.StatusCode.PERMISSION_DENIED,
            f"session_id '{session_id}' not found",
        )
    agent.wait_for_log(rf"config stream: session {session_id} evicted, ending its stream")
