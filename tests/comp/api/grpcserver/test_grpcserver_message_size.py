"""The server sends and receives messages up to ``agent_ipc.grpc_max_message_size``, no more."""

from __future__ import annotations

import grpc
import pytest

from comp.api.grpcserver.def_ import Params
from comp.api.grpcserver.impl import Requires, new_component
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import new_mock
from pkg.ipc import auth_metadata, secure_channel
from pkg.util.lifecycle import Lifecycle
from tests.comp.api.grpcserver.test_grpcserver_impl import UNARY, EchoService

LIMIT = 64 * 1024
ECHO_PREFIX = len(b"echo:")


async def test_requests_and_replies_past_the_configured_limit_are_refused() -> None:
    ipc = new_mock()
    config = new_config_mock(
        {
            "cmd_host": "127.0.0.1",
            "cmd_port": 0,
            "agent_ipc.grpc_max_message_size": LIMIT,
            "config_limits.total_max_bytes": LIMIT // 2,
        }
    )
    lifecycle = Lifecycle()
    server = new_component(
        Requires(lifecycle, config, ipc, [EchoService().grpc_service()], params=Params(stop_grace=0.2))
    ).comp
    await lifecycle.start()
    try:
        # The client accepts far more: only the server's limits are in play.
        async with secure_channel(
            server.address, ipc.client_credentials(), max_message_bytes=LIMIT * 4
        ) as channel:
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(UNARY)
            metadata = auth_metadata(ipc.token)
            reply = await unary(b"x" * (LIMIT - ECHO_PREFIX), metadata=metadata, timeout=10)
            assert len(reply) == LIMIT
            with pytest.raises(grpc.aio.AioRpcError) as sent:
                await unary(b"x" * (LIMIT - ECHO_PREFIX + 1), metadata=metadata, timeout=10)
            assert sent.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # the reply is one byte too big
            with pytest.raises(grpc.aio.AioRpcError) as received:
                await unary(b"x" * (LIMIT + 1), metadata=metadata, timeout=10)
            assert received.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await lifecycle.stop()
