"""The one wording of a failed RPC: by status code only, whatever the details say."""

from __future__ import annotations

import grpc
import pytest

from pkg.grpcutil import SESSION_LOST_CODES, describe_rpc_error, rpc_code

ADDRESS = "127.0.0.1:5001"


def _error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "details", "text"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            "Connection refused",
            f"cannot reach core agent at {ADDRESS}: Connection refused",
        ),
        (grpc.StatusCode.UNAVAILABLE, "  ", f"cannot reach core agent at {ADDRESS}: no details"),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "Deadline Exceeded",
            f"core agent at {ADDRESS} did not answer in time",
        ),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "session_id 'x' not found",
            f"core agent at {ADDRESS} answered PERMISSION_DENIED: session_id 'x' not found",
        ),
    ],
)
def test_each_code_has_one_wording(code: grpc.StatusCode, details: str, text: str) -> None:
    assert describe_rpc_error(ADDRESS, _error(code, details)) == text


def test_the_wording_never_depends_on_the_details_text() -> None:
    # Text that once steered the wording (refused, handshake, keepalive) is now only shown.
    for details in ("connection refused", "SSL handshake failed", "keepalive watchdog timeout"):
        assert describe_rpc_error(ADDRESS, _error(grpc.StatusCode.INTERNAL, details)) == (
            f"core agent at {ADDRESS} answered INTERNAL: {details}"
        )


def test_the_peer_is_named() -> None:
    error = _error(grpc.StatusCode.UNAVAILABLE, "gone")
    assert describe_rpc_error("unix:///run/a.sock", error, peer="remote agent") == (
        "cannot reach remote agent at unix:///run/a.sock: gone"
    )


def test_an_error_without_a_code_is_named_as_such() -> None:
    assert rpc_code(ValueError("x")) is None
    assert (
        describe_rpc_error(ADDRESS, ValueError("bad frame"))
        == f"core agent at {ADDRESS} answered error: bad frame"
    )


def test_rpc_code_reads_the_status_of_a_failed_call() -> None:
    assert rpc_code(_error(grpc.StatusCode.NOT_FOUND, "")) == grpc.StatusCode.NOT_FOUND
    assert grpc.StatusCode.NOT_FOUND in SESSION_LOST_CODES
    assert grpc.StatusCode.UNAVAILABLE not in SESSION_LOST_CODES
