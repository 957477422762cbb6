"""One wording of a failed RPC for users; every decision by status code, never by message text."""

from __future__ import annotations

import grpc

__all__ = ["SESSION_LOST_CODES", "describe_rpc_error", "rpc_code"]

SESSION_LOST_CODES = frozenset(
    {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}
)
"""Answers meaning the registry does not know the session (any more): register again."""


def rpc_code(error: BaseException) -> grpc.StatusCode | None:
    """The status code of a failed call; None for an error that carries none."""
    code = getattr(error, "code", None) if isinstance(error, grpc.RpcError) else None
    result = code() if callable(code) else None
    return result if isinstance(result, grpc.StatusCode) else None


def describe_rpc_error(address: str, error: BaseException, *, peer: str = "core agent") -> str:
    """One line naming ``peer`` at ``address`` and what went wrong::

    cannot reach core agent at localhost:5001: <details>
    core agent at localhost:5001 did not answer in time
    core agent at localhost:5001 answered PERMISSION_DENIED: <details>
    """
    code = rpc_code(error)
    details = error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error)
    details = (details or "").strip() or "no details"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach {peer} at {address}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{peer} at {address} did not answer in time"
    return f"{peer} at {address} answered {code.name if code is not None else 'error'}: {details}"
