"""The consumer's keepalive settings as gRPC channel options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from comp.core.configstreamconsumer.def_ import MIN_KEEPALIVE_TIME, Params
from comp.core.configstreamconsumer.impl.consumer import channel_options


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
