"""The etcd v3 calls the fleet source and ``core-agent fleet`` need, over ``grpc.aio``.

Endpoints are tried in turn: a call that finds its endpoint unreachable moves to the next one and is
retried there (once per endpoint), so a cluster member going away costs one failed attempt. A watch
never retries by itself: it raises, and the caller resumes from the last revision it applied.

TLS is on when ``ca_file`` is set or an endpoint is ``https://``; ``cert_file``/``key_file`` add a
client certificate. With ``username``/``password`` the client authenticates on each new channel
and sends etcd's ``token`` metadata. Channels are created inside the running event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

import grpc
from grpc import aio

from pkg.etcd.errors import EtcdCompactedError, EtcdError, EtcdUnavailableError
from pkg.proto.gen.etcd.api.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from pkg.proto.gen.etcd.api.mvccpb import kv_pb2

__all__ = ["EtcdClient", "EtcdOptions", "KeyValue", "TxnResult", "WatchBatch", "WatchEvent", "prefix_end"]

_RETRY_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN}
)
_MAX_MESSAGE = 64 * 1024 * 1024
_T = TypeVar("_T")


class _Call(NamedTuple):
    timeout: float
    meta: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EtcdOptions:
    """Where etcd is and how to talk to it. ``endpoints``: ``host:port`` or ``http(s)://host:port``."""

    endpoints: tuple[str, ...]
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = ""
    timeout: float = 5.0


@dataclass(frozen=True)
class KeyValue:
    """A key as etcd holds it: raw value bytes and the revision of its last change."""

    key: str
    value: bytes
    mod_revision: int


@dataclass(frozen=True)
class WatchEvent:
    """A put or delete of ``key`` at ``revision``."""

    kind: Literal["put", "delete"]
    key: str
    value: bytes
    revision: int


@dataclass(frozen=True)
class WatchBatch:
    """One watch response: its events in revision order (none for the "created" answer), and the
    store revision etcd had when it sent them."""

    events: tuple[WatchEvent, ...]
    header_revision: int
    created: bool = False


@dataclass(frozen=True)
class TxnResult:
    """A compare-and-write: whether it applied, the store revision after it, and the key as it was
    found when the compare failed (None if absent)."""

    succeeded: bool
    revision: int
    current: KeyValue | None = None


def prefix_end(prefix: bytes) -> bytes:
    """The exclusive end of the range of every key starting with ``prefix``."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def _decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _kv(kv: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(_decode_key(kv.key), bytes(kv.value), kv.mod_revision)


def _address(endpoint: str) -> tuple[str, bool]:
    """``host:port`` and whether the endpoint asks for TLS."""
    for scheme, tls in (("https://", True), ("http://", False)):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :].rstrip("/"), tls
    return endpoint, False


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EtcdError(f"cannot read the etcd {what} {path!r}: {exc.strerror}") from None


class EtcdClient:
    """A connection to one etcd cluster (one member at a time, the next one on failure)."""

    def __init__(self, options: EtcdOptions) -> None:
        if not options.endpoints:
            raise EtcdError("no etcd endpoint given")
        self._options = options
        self._index = 0
        self._channel: aio.Channel | None = None
        self._metadata: tuple[tuple[str, str], ...] = ()
        self._credentials: grpc.ChannelCredentials | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint in use (or tried next)."""
        return self._options.endpoints[self._index]

    async def close(self) -> None:
        """Close the channel; the next call opens a new one."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    async def _next_endpoint(self) -> None:
        await self.close()
        self._index = (self._index + 1) % len(self._options.endpoints)

    def _tls(self) -> grpc.ChannelCredentials:
        if self._credentials is None:
            o = self._options
            root = _read(o.ca_file, "CA file") if o.ca_file else None
            key = _read(o.key_file, "key file") if o.key_file else None
            cert = _read(o.cert_file, "certificate file") if o.cert_file else None
            self._credentials = grpc.ssl_channel_credentials(root, key, cert)
        return self._credentials

    async def _connect(self) -> aio.Channel:
        if self._channel is not None:
            return self._channel
        address, https = _address(self.endpoint)
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        if https or self._options.ca_file:
            channel = aio.secure_channel(address, self._tls(), options=options)
        else:
            channel = aio.insecure_channel(address, options=options)
        self._channel = channel
        self._metadata = ()
        if self._options.username:
            auth = rpc_pb2_grpc.AuthStub(channel)
            request = rpc_pb2.AuthenticateRequest(
                name=self._options.username, password=self._options.password
            )
            try:
                response = await auth.Authenticate(request, timeout=self._options.timeout)
            except aio.AioRpcError:
                await self.close()  # the next attempt authenticates again
                raise
            self._metadata = (("token", response.token),)
        return channel

    async def _failure(self, exc: aio.AioRpcError) -> EtcdError:
        """The error to raise for ``exc``; a refused token (expired, revoked) drops the channel so
        that the next call authenticates again."""
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            await self.close()
        detail = exc.details() or exc.code().name
        text = f"etcd {self.endpoint}: {detail}"
        if exc.code() in _RETRY_CODES:
            return EtcdUnavailableError(text)
        return EtcdError(text)

    async def _kv(self) -> rpc_pb2_grpc.KVAsyncStub:
        return rpc_pb2_grpc.KVStub(await self._connect())

    async def _unary_kv(self, call: Callable[[rpc_pb2_grpc.KVAsyncStub, _Call], Awaitable[_T]]) -> _T:
        """Run ``call`` on the current endpoint, moving on to the next on unavailability."""
        last: EtcdError | None = None
        for _ in range(len(self._options.endpoints)):
            try:
                stub = await self._kv()
                return await call(stub, _Call(self._options.timeout, self._metadata))
            except aio.AioRpcError as exc:
                error = await self._failure(exc)
                if not isinstance(error, EtcdUnavailableError):
                    raise error from None
                last = error
                await self._next_endpoint()
        assert last is not None
        raise last

    async def range_prefix(self, prefix: str, revision: int = 0) -> tuple[list[KeyValue], int]:
        """Every key under ``prefix`` (at ``revision``, 0: the latest) and the store revision read."""
        key = prefix.encode()
        request = rpc_pb2.RangeRequest(key=key, range_end=prefix_end(key), revision=revision)
        response = await self._unary_kv(lambda kv, c: kv.Range(request, timeout=c.timeout, metadata=c.meta))
        return [_kv(kv) for kv in response.kvs], response.header.revision

    async def get(self, key: str) -> tuple[KeyValue | None, int]:
        """``key`` (None when absent) and the store revision read."""
        request = rpc_pb2.RangeRequest(key=key.encode())
        response = await self._unary_kv(lambda kv, c: kv.Range(request, timeout=c.timeout, metadata=c.meta))
        found = _kv(response.kvs[0]) if response.kvs else None
        return found, response.header.revision

    async def put(self, key: str, value: bytes, *, expected_revision: int | None) -> TxnResult:
        """Write ``key`` if its last change is ``expected_revision`` (0: absent); always when None."""
        op = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key.encode(), value=value))
        return await self._txn(key, op, expected_revision)

    async def delete(self, key: str, *, expected_revision: int | None) -> TxnResult:
        """Delete ``key`` if its last change is ``expected_revision``; always when None."""
        op = rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key.encode()))
        return await self._txn(key, op, expected_revision)

    async def _txn(self, key: str, op: rpc_pb2.RequestOp, expected_revision: int | None) -> TxnResult:
        raw = key.encode()
        compare: list[rpc_pb2.Compare] = []
        if expected_revision is not None:
            compare.append(
                rpc_pb2.Compare(
                    result=rpc_pb2.Compare.EQUAL,
                    target=rpc_pb2.Compare.MOD,
                    key=raw,
                    mod_revision=expected_revision,
                )
            )
        failure = rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=raw))
        request = rpc_pb2.TxnRequest(compare=compare, success=[op], failure=[failure])
        response = await self._unary_kv(lambda kv, c: kv.Txn(request, timeout=c.timeout, metadata=c.meta))
        if response.succeeded:
            return TxnResult(True, response.header.revision)
        kvs = response.responses[0].response_range.kvs
        return TxnResult(False, response.header.revision, _kv(kvs[0]) if kvs else None)

    async def watch_prefix(self, prefix: str, start_revision: int) -> AsyncIterator[WatchBatch]:
        """Every change under ``prefix`` from ``start_revision`` on, in revision order.

        The first batch is the "created" answer (no events). Raises EtcdCompactedError when
        ``start_revision`` was compacted, EtcdUnavailableError when the stream breaks (the client has
        then moved to the next endpoint), EtcdError when etcd cancels the watch.
        """
        key = prefix.encode()
        create = rpc_pb2.WatchCreateRequest(
            key=key, range_end=prefix_end(key), start_revision=start_revision, progress_notify=True
        )
        try:
            channel = await self._connect()
            # hasleader: etcd ends the watch when this member loses its leader, instead of going quiet.
            metadata = (*self._metadata, ("hasleader", "true"))
            call = rpc_pb2_grpc.WatchStub(channel).Watch(metadata=metadata)
        except aio.AioRpcError as exc:
            error = await self._failure(exc)
            await self._next_endpoint()
            raise error from None
        try:
            await call.write(rpc_pb2.WatchRequest(create_request=create))
            while True:
                response = await call.read()
                if response is aio.EOF:
                    raise EtcdUnavailableError(f"etcd {self.endpoint}: watch stream ended")
                assert isinstance(response, rpc_pb2.WatchResponse)
                if response.compact_revision:
                    raise EtcdCompactedError(start_revision, response.compact_revision)
                if response.canceled:
                    reason = response.cancel_reason or "no reason given"
                    raise EtcdUnavailableError(f"etcd {self.endpoint}: watch canceled: {reason}")
                yield WatchBatch(_events(response.events), response.header.revision, response.created)
        except aio.AioRpcError as exc:
            error = await self._failure(exc)
            if isinstance(error, EtcdUnavailableError):
                await self._next_endpoint()
            raise error from None
        finally:
            call.cancel()


def _events(events: Sequence[kv_pb2.Event]) -> tuple[WatchEvent, ...]:
    return tuple(
        WatchEvent(
            "delete" if e.type == kv_pb2.Event.DELETE else "put",
            _decode_key(e.kv.key),
            bytes(e.kv.value),
            e.kv.mod_revision,
        )
        for e in events
    )
