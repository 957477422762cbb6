"""The client's run: register with the core agent, stream its config events, report, return a status.

The event handling (:class:`EventPrinter`) is plain code; :func:`run` only does the I/O around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import grpc

from config_stream_client.accounting import StreamTally, record_progress, record_snapshot, record_update
from config_stream_client.formatting import SettingView, snapshot_lines, summary_lines, update_lines
from config_stream_client.options import Options, Target
from pkg.grpcutil import SESSION_ID_METADATA_KEY, RegistryClient, describe_rpc_error
from pkg.ipc import IpcError, auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.values import from_value

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "FLAVOR",
    "ClientFailedError",
    "EventPrinter",
    "run",
    "setting_view",
]

EXIT_OK = 0
EXIT_FAILURE = 1
FLAVOR = "config-stream-test-client"
_CALL_TIMEOUT_S = 10.0

Emit = Callable[[str], None]
_EventCall = grpc.aio.UnaryStreamCall[configstream_pb2.ConfigStreamRequest, configstream_pb2.ConfigEvent]


def setting_view(setting: configstream_pb2.ConfigSetting) -> SettingView:
    """A printable view of a wire setting."""
    value = from_value(setting.value) if setting.HasField("value") else None
    return SettingView(setting.key, value, setting.source, setting.unset_source)


@dataclass
class EventPrinter:
    """Accounts for each event and emits the lines that describe it."""

    emit: Emit
    max_samples: int
    tally: StreamTally = field(default_factory=StreamTally)
    filtered: bool = False
    """The stream asked for a key filter: updates are checked by their ``previous_sequence_id``."""

    def on_event(self, event: configstream_pb2.ConfigEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "snapshot":
            snap = event.snapshot
            self.tally, finding = record_snapshot(self.tally, snap.sequence_id)
            settings = [setting_view(s) for s in snap.settings]
            self._emit(snapshot_lines(snap.sequence_id, settings, self.max_samples), finding.warning)
        elif kind == "update":
            self._on_update(event.update)
        elif kind == "batch":
            updates = event.batch.updates
            self.tally = replace(self.tally, batches=self.tally.batches + 1)
            first, last = (updates[0].sequence_id, updates[-1].sequence_id) if updates else (0, 0)
            self.emit(f"BATCH received (updates={len(updates)}, seq_id={first}..{last})")
            for upd in updates:
                self._on_update(upd)
        elif kind == "progress":
            seq = event.progress.sequence_id
            self.tally, finding = record_progress(self.tally, seq, filtered=self.filtered)
            self._emit([f"PROGRESS received (seq_id={seq})"], finding.warning)
        else:
            self.emit("WARNING: event of an unknown kind ignored")

    def _on_update(self, upd: configstream_pb2.ConfigUpdate) -> None:
        previous = upd.previous_sequence_id if self.filtered else None
        self.tally, finding = record_update(self.tally, upd.sequence_id, previous)
        self._emit(
            update_lines(self.tally.updates, upd.sequence_id, setting_view(upd.setting)), finding.warning
        )

    def _emit(self, lines: list[str], warning: str | None) -> None:
        for line in lines:
            self.emit(line)
        if warning:
            self.emit(warning)


class ClientFailedError(Exception):
    """The run cannot go on; the message says why."""


@dataclass
class _Session:
    """One run's connection: the channel, the secrets presented and where the output goes."""

    options: Options
    target: Target
    channel: grpc.aio.Channel
    token: str
    printer: EventPrinter
    stopper: asyncio.Task[Any]
    deadline: float
    registry: RegistryClient = field(init=False)

    def __post_init__(self) -> None:
        self.registry = RegistryClient(self.channel, self.token, _CALL_TIMEOUT_S)

    def _describe(self, exc: grpc.aio.AioRpcError) -> str:
        return describe_rpc_error(self.target.address, exc)

    async def register(self) -> tuple[str, int]:
        try:
            return await self.registry.register(FLAVOR, self.options.name)
        except grpc.aio.AioRpcError as exc:
            raise ClientFailedError(self._describe(exc)) from exc

    async def keep_alive(self, session_id: str, interval_s: int) -> None:
        """Refresh the session so that the registry does not evict it during a long run."""
        while True:
            await asyncio.sleep(max(interval_s, 1))
            try:
                await self.registry.refresh(session_id)
            except grpc.aio.AioRpcError as exc:
                self.printer.emit(f"WARNING: session refresh failed: {self._describe(exc)}")

    async def _consume(self, call: _EventCall) -> None:
        async for event in call:
            self.printer.on_event(event)

    async def stream(self, session_id: str) -> None:
        """Print events until the deadline or the stop; raise ClientFailedError if the stream fails."""
        stub = api_pb2_grpc.AgentSecureStub(self.channel)
        metadata = (*auth_metadata(self.token), (SESSION_ID_METADATA_KEY, session_id))
        request = _stream_request(self.options)
        call = stub.StreamConfigEvents(request, metadata=metadata)
        consumer = asyncio.create_task(self._consume(call))
        try:
            await asyncio.wait(
                {consumer, self.stopper},
                timeout=max(self.deadline - time.monotonic(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        except BaseException:
            call.cancel()
            consumer.cancel()
            raise
        if not consumer.done():  # --duration elapsed or stopped: the normal end
            call.cancel()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await consumer
            return
        error = consumer.exception()
        if isinstance(error, grpc.aio.AioRpcError):
            raise ClientFailedError(self._describe(error))
        if error is not None:
            raise error
        raise ClientFailedError("the core agent ended the stream before --duration elapsed")


def _stream_request(options: Options) -> configstream_pb2.ConfigStreamRequest:
    """The stream request: the name, plus the extensions the flags ask for (none by default)."""
    request = configstream_pb2.ConfigStreamRequest(name=options.name)
    if options.filtered:
        request.filter.CopyFrom(configstream_pb2.KeyFilter(keys=options.keys, prefixes=options.prefixes))
    request.max_batch_updates = options.max_batch_updates
    request.progress = options.progress
    return request


async def _connect_and_stream(
    options: Options, target: Target, printer: EventPrinter, stop: asyncio.Event
) -> None:
    deadline = time.monotonic() + options.duration_seconds
    try:
        material = load_client_material(target.auth_token_file, target.cert_file)
    except IpcError as exc:
        raise ClientFailedError(str(exc)) from exc
    credentials = client_credentials(material.cert_pem, material.key_pem)
    async with secure_channel(
        target.address, credentials, max_message_bytes=target.max_message_bytes
    ) as channel:
        stopper = asyncio.create_task(stop.wait())
        session = _Session(options, target, channel, material.token, printer, stopper, deadline)
        try:
            registering = asyncio.create_task(session.register())
            await asyncio.wait({registering, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not registering.done():
                registering.cancel()
                return
            session_id, refresh_s = registering.result()
            refresher = asyncio.create_task(session.keep_alive(session_id, refresh_s))
            try:
                await session.stream(session_id)
            finally:
                refresher.cancel()
        finally:
            stopper.cancel()


async def run(options: Options, target: Target, emit: Emit, emit_error: Emit, stop: asyncio.Event) -> int:
    """Stream until ``--duration`` elapses, ``stop`` is set or the stream fails; print the summary.

    Returns ``EXIT_OK`` when a snapshot arrived and no gap or out-of-order id was seen.
    """
    printer = EventPrinter(emit=emit, max_samples=options.max_samples, filtered=options.filtered)
    started = time.monotonic()
    failed = False
    try:
        await _connect_and_stream(options, target, printer, stop)
    except ClientFailedError as exc:
        emit_error(f"error: {exc}")
        failed = True
    for line in summary_lines(printer.tally, time.monotonic() - started):
        emit(line)
    return EXIT_FAILURE if failed or not printer.tally.healthy else EXIT_OK
