"""The consumer's keepalive settings as gRPC channel options, and the wording of keepalive failures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import grpc

from comp.core.configstreamconsumer.def_ import MIN_KEEPALIVE_TIME, Params
from comp.core.configstreamconsumer.impl.consumer import channel_options
from comp.core.configstreamconsumer.impl.session import describe_rpc_error


def _params(keepalive_time: float = 15.0, keepalive_timeout: float = 5.0) -> Params:
    """Params with files named (no file is read to build the options)."""
    default = Params(auth_token_file=Path("token"), cert_file=Path("cert"))
    return replace(default, keepalive_time=keepalive_time, keepalive_timeout=keepalive_timeout)


def test_channel_options_ping_at_the_keepalive_time_and_bound_every_ping() -> None:
    options = dict(channel_options(_params(keepalive_time=2.5, keepalive_timeout=0.75)))
    assert options["grpc.keepalive_time_ms"] == 2500
    assert options["grpc.keepalive_timeout_ms"] == 750
    assert options["grpc.http2.ping_timeout_ms"] == 750
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.http2.max_pings_without_data"] == 0  # keep pinging through a silent stream


def test_default_keepalive_notices_a_hung_core_within_twenty_seconds() -> None:
    params = Params(auth_token_file=Path("token"), cert_file=Path("cert"))
    assert params.keepalive_time >= MIN_KEEPALIVE_TIME
    assert params.keepalive_time + params.keepalive_timeout <= 20


def _unavailable(details: str) -> str:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details
    )
    return describe_rpc_error("127.0.0.1:5001", error)


def test_keepalive_failures_are_worded_for_users() -> None:
    assert "stopped answering keepalive pings" in _unavailable("keepalive watchdog timeout")
    assert "stopped answering keepalive pings" in _unavailable("Ping timeout")
    assert "refused our keepalive pings as too frequent" in _unavailable("Too many pings")
