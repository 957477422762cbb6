"""Registration of a remote agent with the core agent: register, refresh, register again.

One background task: load the IPC material (the core creates it at its first start, so it may be
missing for a while), start the agent's server once, register advertising its services and address,
then refresh at the recommended interval. A refresh answered NOT_FOUND (the core evicted or forgot
us), or :meth:`RegisteredAgent.session_lost`, drops the session and registers again at once, whatever
delay earlier failures had reached; other failures are retried with doubling delays, which start
again from the initial one after each registration. While there is no session the server refuses
calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import grpc

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagent.def_ import Params
from comp.core.remoteagent.impl.server import AgentServer
from pkg.grpcutil import DEFAULT_REFRESH_SECONDS, RegistryClient, describe_rpc_error
from pkg.ipc import (
    ClientMaterial,
    IpcError,
    client_credentials,
    load_client_material,
    secure_channel,
)
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb

__all__ = ["RegisteredAgent"]

_log = logging.getLogger(__name__)

_SESSION_GONE = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED})


class _RetryError(Exception):
    """Ends one attempt; the message says why."""


class _SessionGoneError(_RetryError):
    """The core no longer knows a session it had accepted: register again at once."""


class RegisteredAgent:
    """Implements the remote agent ``Component``; use from one event loop."""

    def __init__(self, params: Params, services: Sequence[GrpcService]) -> None:
        self._params = params
        self._names = tuple(dict.fromkeys(name for s in services for name in s.names))
        self._server = AgentServer(params.listen, services, lambda: self._session_id)
        self._session_id: str | None = None
        self._has_session = asyncio.Event()
        self._attempted = asyncio.Event()  # set after each registration attempt, then replaced
        self._wake = asyncio.Event()
        self._last_error: str | None = None
        self._backing_off = False  # the last attempt failed and the loop waits before the next
        self._task: asyncio.Task[None] | None = None
        self._material: ClientMaterial | None = None
        self._retry_delay = params.retry_initial

    @property
    def api_endpoint_uri(self) -> str:
        return self._server.api_endpoint_uri

    @property
    def services(self) -> tuple[str, ...]:
        return self._names

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def last_error(self) -> str | None:
        return self._last_error

    async def start(self) -> None:
        if self._task is not None:
            return
        try:
            self._material = self._load()
        except IpcError as exc:  # the core has not created its secrets yet: the task waits for them
            self._last_error = f"cannot load the IPC files: {exc}"
        if self._material is not None:
            await self._server.start(self._material)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="remote agent registration")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._drop_session()
        await self._server.stop()

    async def current_session(self) -> str:
        while self._session_id is None:
            if self._backing_off:
                raise ConnectionError(self._last_error or "not registered with the core agent")
            await self._attempted.wait()
        return self._session_id

    def _attempt_ended(self) -> None:
        attempted, self._attempted = self._attempted, asyncio.Event()
        attempted.set()

    def session_lost(self, session_id: str) -> None:
        if session_id == self._session_id:
            _log.info("remote agent: session %s refused by the core agent; registering again", session_id)
            self._drop_session()
            self._wake.set()

    async def report_events(self, events: Sequence[pb.Event]) -> None:
        session_id = await self.current_session()
        async with self._registry() as registry:
            await registry.report_events(session_id, events)

    # --- the registration loop ------------------------------------------------------------------

    def _load(self) -> ClientMaterial:
        p = self._params
        if p.material is not None:
            return p.material
        assert p.auth_token_file is not None and p.cert_file is not None  # checked at construction
        return load_client_material(p.auth_token_file, p.cert_file)

    def _drop_session(self) -> None:
        self._session_id = None
        self._has_session.clear()

    @contextlib.asynccontextmanager
    async def _registry(self) -> AsyncIterator[RegistryClient]:
        material = self._material if self._material is not None else self._load()
        credentials = client_credentials(material.cert_pem, material.key_pem)
        async with secure_channel(self._params.core_address, credentials) as channel:
            yield RegistryClient(channel, material.token, self._params.rpc_timeout)

    async def _run(self) -> None:
        while True:
            try:
                await self._attempt()
            except _SessionGoneError as exc:
                self._last_error = str(exc)
                self._attempt_ended()
                _log.info("remote agent: %s; registering again at once", exc)
                continue
            except _RetryError as exc:
                self._last_error = str(exc)
            except grpc.aio.AioRpcError as exc:
                self._last_error = describe_rpc_error(self._params.core_address, exc)
            except IpcError as exc:
                self._last_error = f"cannot load the IPC files: {exc}"
            except Exception as exc:  # a bug must not end registration for good
                _log.exception("remote agent: unexpected registration error")
                self._last_error = f"unexpected error: {exc!r}"
            self._backing_off = True
            self._attempt_ended()
            delay = self._retry_delay
            _log.info("remote agent: %s; retrying in %.1fs", self._last_error, delay)
            try:
                await asyncio.sleep(delay)
            finally:
                self._backing_off = False
            self._retry_delay = min(delay * 2, self._params.retry_cap)

    async def _attempt(self) -> None:
        if self._material is None:
            self._material = self._load()
            await self._server.start(self._material)
        p = self._params
        async with self._registry() as registry:
            session_id, recommended = await registry.register(
                p.flavor, p.display_name, api_endpoint_uri=self._server.api_endpoint_uri, services=self._names
            )
            self._session_id = session_id
            self._has_session.set()
            self._last_error = None
            self._attempt_ended()
            self._retry_delay = p.retry_initial
            interval = p.refresh_interval
            if interval is None:
                interval = float(recommended) or DEFAULT_REFRESH_SECONDS
            _log.info(
                "remote agent: registered with the core agent at %s (session %s, services %s)",
                p.core_address,
                session_id,
                ", ".join(self._names) or "none",
            )
            await self._keep(registry, session_id, interval)

    async def _keep(self, registry: RegistryClient, session_id: str, interval: float) -> None:
        """Refresh until the session is gone (returns to register again) or a refresh fails."""
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            if self._session_id != session_id:
                raise _SessionGoneError(f"session {session_id} refused by the core agent")
            try:
                await registry.refresh(session_id)
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _SESSION_GONE:
                    self._drop_session()
                    raise _SessionGoneError(f"session {session_id} unknown to the core agent") from None
                _log.warning(
                    "remote agent: session refresh failed: %s",
                    describe_rpc_error(self._params.core_address, exc),
                )
