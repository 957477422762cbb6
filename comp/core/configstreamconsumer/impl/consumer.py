"""The consumer: register, stream, apply, refresh the session, reconnect.

One background task runs connection attempts in a loop. An attempt loads the IPC material, opens a
fresh channel (inside the running loop; a fresh one so that grpc's own reconnection backoff never
adds to ours), registers when there is no session, then streams while a second task refreshes the
session. Any failure ends the attempt: the reason is recorded, the state becomes ``disconnected``
(the last view keeps answering) and the next attempt waits for the backoff delay, except when the
core refused a session that had worked (it evicted us, or restarted while we were away): then the
consumer registers again at once, since the core is evidently up. A session refused before it ever
worked waits for the backoff, so a core that keeps refusing is never hammered.

Ordering rules: the first event of every stream must be a snapshot, unless the stream resumes; a
snapshot is accepted whatever its sequence id (a restarted core agent starts a new id space) and
replaces the view at once; an update whose id is not last+1 is a gap (counted; the stream is dropped
and the next one starts with a snapshot); an update whose id is at or below the last one is stale
(counted and dropped).

Resume: every request carries ``resume_from``. Until a snapshot has named the core's epoch (and
again after a snapshot without one, or a gap) its epoch is empty, which only says that the consumer
speaks the extension; otherwise it holds that epoch and the last applied sequence id. The core
answers in the stream's initial metadata (``configstream-resume``): ``accepted`` makes the stream
live at once, before any event (there is none when nothing was missed); ``refused`` or ``none`` means
a snapshot follows. From a core that sends no answer (an older one, or the Go agent): a first update
with id last+1 continues the view (a resume); a snapshot means the core refused and is applied as
usual; silence for ``resume_quiet_period`` means nothing was missed.

Extensions asked for in every request (a core that ignores them sends the plain stream):

- a ``batch`` is checked whole (ids in order, as for single updates), then applied as one change of
  the view; a gap anywhere in it applies none of it and resynchronises as any gap does;
- with a filter, the consumer drops the keys outside it from whatever the core sends, and checks
  every update's ``previous_sequence_id`` against the last id it saw (snapshot, update or progress):
  a mismatch is a lost event, handled as a gap. An update that leaves the field unset (0) is
  accepted only when its id is last+1, which is how a core that ignores the filter numbers them;
- a ``progress`` event is a sign of life and moves the position: a filtered stream's view moves to
  its id (nothing it carries changed meanwhile); an unfiltered stream receives every update, so a
  progress id beyond the last applied one means updates were lost: a gap. See
  :mod:`.liveness` for the stall detection that progress events allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from typing import NoReturn

import grpc

from comp.core.configstreamconsumer.def_ import (
    ConsumerState,
    ConsumerStats,
    Liveness,
    NotReadyError,
    Params,
    Reader,
    SessionSource,
    Subscription,
)
from comp.core.configstreamconsumer.impl.backoff import Backoff
from comp.core.configstreamconsumer.impl.liveness import ProgressWatch
from comp.core.configstreamconsumer.impl.metrics import ConsumerMetrics
from comp.core.configstreamconsumer.impl.streamfilter import StreamFilter, filter_names
from comp.core.configstreamconsumer.impl.subscriptions import SubscriptionHub
from comp.core.configstreamconsumer.impl.view import ViewHolder, ViewReader, parse_source
from pkg.config.change import Setting
from pkg.config.sources import Source
from pkg.grpcutil import (
    DEFAULT_REFRESH_SECONDS,
    SESSION_ID_METADATA_KEY,
    SESSION_LOST_CODES,
    RegistryClient,
    describe_rpc_error,
)
from pkg.ipc import (
    ClientMaterial,
    IpcError,
    auth_metadata,
    client_credentials,
    load_client_material,
    secure_channel,
)
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import ResumeAnswer, resume_answer_from_metadata
from pkg.protoconv.values import from_value

__all__ = ["StreamConsumer", "channel_options"]

_log = logging.getLogger(__name__)

# Wire sequence ids are int32 and wrap after 2**31 - 1: a jump that far back is a gap, not staleness.
_WRAP_DISTANCE = 2**30

Clock = Callable[[], float]


def channel_options(params: Params) -> list[tuple[str, int]]:
    """The consumer's gRPC channel options: message size (the core's ``agent_ipc.grpc_max_message_size``,
    ``Params.max_message_bytes``) and keepalive.

    A stream from a core that hangs stays silent forever unless the consumer pings: the kernel only
    closes the socket of a process that died. ``max_pings_without_data`` 0 keeps pinging through a
    silent stream (gRPC otherwise stops after two pings until data is sent). ``ping_timeout_ms``
    bounds every ping, not only keepalive ones: gRPC sends no keepalive ping while another ping
    (a flow-control probe sent just before the core hung) awaits its answer, and that one would
    otherwise wait a minute.
    """
    return [
        ("grpc.max_receive_message_length", params.max_message_bytes),
        ("grpc.keepalive_time_ms", round(params.keepalive_time * 1000)),
        ("grpc.keepalive_timeout_ms", round(params.keepalive_timeout * 1000)),
        ("grpc.http2.ping_timeout_ms", round(params.keepalive_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


class _AttemptError(Exception):
    """Ends one connection attempt; the message is the reason shown to users."""


class _SessionLostError(_AttemptError):
    """The registry no longer knows our session: register again."""


class StreamConsumer:
    """Implements the consumer ``Component``. Use from one event loop; ``reader()`` from any thread."""

    def __init__(
        self,
        params: Params,
        metrics: ConsumerMetrics,
        session_source: SessionSource | None = None,
    ) -> None:
        self._filter = _stream_filter(params)
        self._params = params
        self._session_source = session_source
        self._channel_options = channel_options(params)
        self._metrics = metrics
        self._clock = params.clock
        self._backoff = Backoff(params.backoff, params.rand)
        self._holder = ViewHolder()
        self._reader = ViewReader(self._holder, stream_filter=self._filter)
        self._hub = SubscriptionHub(params.subscriber_queue_size, on_overflow=metrics.overflow)
        self._watch = ProgressWatch(params.clock, params.stall_multiple)
        self._progress_armed = asyncio.Event()  # the current stream sent progress: watch it for stalls
        self._state = ConsumerState.DISCONNECTED
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session_id: str | None = None
        self._session_worked = False  # the core accepted the current session (a live stream, a refresh)
        self._refresh_interval = DEFAULT_REFRESH_SECONDS
        self._started_at = 0.0
        self._live_since: float | None = None
        self._synced = False  # the current stream has delivered its snapshot, or resumed
        self._epoch = ""  # the core's epoch of the view's sequence ids ("": ask for a snapshot)
        self._resuming_after: int | None = None  # the sequence id the current stream resumes after
        self._resume_answered = False  # the current stream's headers answered its resume point
        self._last_error: str | None = None
        metrics.state(self._state)

    # --- Component -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._started_at = self._clock()
        self._set_state(ConsumerState.CONNECTING)
        self._task = asyncio.create_task(self._run(), name=f"configstream consumer {self._params.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._hub.close()
        self._set_state(ConsumerState.DISCONNECTED)

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the API
        limit = self._params.ready_timeout if timeout is None else timeout
        if self._ready.is_set():
            return
        try:
            await asyncio.wait_for(self._ready.wait(), limit)
        except TimeoutError:
            raise NotReadyError(
                f"config stream not ready after {float(limit)}s: {self._not_ready_reason()}"
            ) from None

    def reader(self) -> Reader:
        return self._reader

    def subscribe(self, keys: Collection[str] | None = None, prefix: str | None = None) -> Subscription:
        return self._hub.subscribe(keys, prefix)

    @property
    def state(self) -> ConsumerState:
        return self._state

    @property
    def sequence_id(self) -> int:
        return self._holder.sequence_id

    @property
    def stats(self) -> ConsumerStats:
        return self._metrics.stats(tuple(self._backoff.delays))

    @property
    def liveness(self) -> Liveness:
        return self._watch.liveness()

    @property
    def stream_filter(self) -> StreamFilter:
        """The filter this consumer asks for (inactive: every key)."""
        return self._filter

    # --- connection loop -------------------------------------------------------------------------

    def _not_ready_reason(self) -> str:
        if self._task is None and not self._ready.is_set():
            return f"the consumer was not started (core agent at {self._params.ipc_address})"
        if self._last_error is not None:
            return self._last_error
        return f"still connecting to core agent at {self._params.ipc_address}"

    def _set_state(self, state: ConsumerState) -> None:
        if state != self._state:
            _log.debug("config stream: %s -> %s", self._state.value, state.value)
        self._state = state
        self._metrics.state(state)

    async def _run(self) -> None:
        address = self._params.ipc_address
        while True:
            self._set_state(ConsumerState.CONNECTING)
            self._live_since = None
            rejoin_now = False
            try:
                await self._attempt()
                reason = f"core agent at {address} ended the stream"
            except _SessionLostError as exc:
                rejoin_now = self._forget_session()
                reason = str(exc)
            except _AttemptError as exc:
                reason = str(exc)
            except grpc.RpcError as exc:
                if isinstance(exc, grpc.aio.AioRpcError) and exc.code() in SESSION_LOST_CODES:
                    rejoin_now = self._forget_session()
                reason = describe_rpc_error(address, exc)
            except IpcError as exc:
                reason = f"cannot connect to core agent at {address}: {exc}"
            except Exception as exc:  # a bug must not end the loop: report it and retry
                _log.exception("config stream: unexpected error")
                reason = f"unexpected error with core agent at {address}: {exc!r}"
            self._last_error = reason
            self._metrics.failure(reason)
            self._set_state(ConsumerState.DISCONNECTED)
            if self._live_since is not None:
                self._backoff.note_healthy_for(self._clock() - self._live_since)
            if rejoin_now:
                _log.info("config stream: %s; registering again at once", reason)
                self._metrics.reconnect()
                continue
            delay = self._backoff.next_delay()
            self._metrics.reconnect_delay(delay)
            level = logging.WARNING if self._ready.is_set() else logging.INFO
            _log.log(level, "config stream: %s; retrying in %.2fs", reason, delay)
            await asyncio.sleep(delay)
            self._metrics.reconnect()

    def _material(self) -> ClientMaterial:
        p = self._params
        if p.material is not None:
            return p.material
        assert p.auth_token_file is not None and p.cert_file is not None  # checked at construction
        return load_client_material(p.auth_token_file, p.cert_file)

    async def _attempt(self) -> None:
        p = self._params
        material = self._material()
        credentials = client_credentials(material.cert_pem, material.key_pem)
        async with secure_channel(p.ipc_address, credentials, self._channel_options) as channel:
            registry: RegistryClient | None = None
            if self._session_source is not None:
                self._session_id = await self._session_from_source()
            else:
                registry = RegistryClient(channel, material.token, p.rpc_timeout)
            if registry is not None and self._session_id is None:
                session_id, recommended = await registry.register(p.flavor, p.display_name)
                self._session_id = session_id
                self._session_worked = False
                self._refresh_interval = float(recommended) or DEFAULT_REFRESH_SECONDS
                self._metrics.registration()
                _log.debug("config stream: registered with session %s", session_id)
            current = self._session_id
            assert current is not None
            session_id = current
            metadata = (*auth_metadata(material.token), (SESSION_ID_METADATA_KEY, session_id))
            stub = api_pb2_grpc.AgentSecureStub(channel)
            call = stub.StreamConfigEvents(self._stream_request(), metadata=metadata)
            self._synced = self._resume_answered = False
            self._watch.new_stream()
            self._progress_armed.clear()
            tasks = {asyncio.create_task(self._read(call))}
            if registry is not None:  # else the registration component refreshes the session
                tasks.add(asyncio.create_task(self._keep_session(registry, session_id)))
            if self._resuming_after is not None:
                tasks.add(asyncio.create_task(self._await_quiet_resume(channel)))
            if p.progress and p.stall_multiple > 0:
                tasks.add(asyncio.create_task(self._watch_stalls()))
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                call.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                task.result()  # raises the failure that ended the attempt

    async def _session_from_source(self) -> str:
        """The registration component's session, waiting for it at most ``rpc_timeout``."""
        source = self._session_source
        assert source is not None
        try:
            session_id = await asyncio.wait_for(source.current_session(), self._params.rpc_timeout)
            if session_id != self._session_id:
                self._session_worked = False
                self._metrics.registration()  # a session of the registration component's
            return session_id
        except ConnectionError as exc:
            raise _AttemptError(str(exc)) from None
        except TimeoutError:
            why = source.last_error or "registration in progress"
            raise _AttemptError(
                f"not registered with core agent at {self._params.ipc_address} yet: {why}"
            ) from None

    def _forget_session(self) -> bool:
        """The core refused our session: register again (or have the registration component do it).

        True when that session had worked, so the next attempt should not wait for the backoff.
        """
        session_id, self._session_id = self._session_id, None
        worked, self._session_worked = self._session_worked, False
        if self._session_source is not None and session_id is not None:
            self._session_source.session_lost(session_id)
        return worked and session_id is not None

    def _stream_request(self) -> configstream_pb2.ConfigStreamRequest:
        """The request of a new stream, with our resume point (see the module docstring)."""
        epoch = self._epoch
        self._resuming_after = self._holder.sequence_id if epoch else None
        resume = configstream_pb2.ResumeFrom(epoch=epoch, sequence_id=self._resuming_after or 0)
        return configstream_pb2.ConfigStreamRequest(
            name=self._params.name,
            resume_from=resume,
            max_batch_updates=self._params.max_batch_updates,
            filter=self._filter.to_wire(),
            progress=self._params.progress,
        )

    async def _watch_stalls(self) -> None:
        """End the attempt when a stream that sent progress stays silent past its stall timeout."""
        await self._progress_armed.wait()
        while True:
            deadline = self._watch.stall_deadline()
            assert deadline is not None  # armed: the stream sent progress
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._metrics.stall()
                raise _AttemptError(
                    f"core agent at {self._params.ipc_address} sent nothing for "
                    f"{self._watch.silence():.1f}s (progress usually every "
                    f"{self._watch.progress_interval or 0:.1f}s): the stream is stuck"
                )
            await asyncio.sleep(remaining)

    async def _await_quiet_resume(self, channel: grpc.aio.Channel) -> None:
        """For a core that does not answer in the headers: take a resumed stream as live once it stayed
        silent for the quiet period after the channel connected (such a core, resuming with no update
        missed, sends nothing, not even headers). Runs until cancelled."""
        await channel.channel_ready()
        await asyncio.sleep(self._params.resume_quiet_period)
        if not self._synced and not self._resume_answered:
            self._resume("no update was missed")
        await asyncio.Event().wait()

    async def _keep_session(self, registry: RegistryClient, session_id: str) -> None:
        interval = self._params.refresh_interval
        if interval is None:
            interval = self._refresh_interval
        if interval <= 0:
            await asyncio.Event().wait()  # refreshing disabled: wait until cancelled
        while True:
            await asyncio.sleep(interval)
            try:
                await registry.refresh(session_id)
                self._session_worked = True
            except grpc.aio.AioRpcError as exc:
                reason = describe_rpc_error(self._params.ipc_address, exc)
                if exc.code() in SESSION_LOST_CODES:
                    raise _SessionLostError(f"session refresh failed: {reason}") from exc
                _log.warning("config stream: session refresh failed: %s", reason)

    async def _read(
        self,
        call: grpc.aio.UnaryStreamCall[configstream_pb2.ConfigStreamRequest, configstream_pb2.ConfigEvent],
    ) -> None:
        # Our core sends its headers before any event; another core's come with its first event.
        self._on_resume_answer(resume_answer_from_metadata(await call.initial_metadata() or ()))
        async for event in call:
            kind = event.WhichOneof("event")
            self._watch.event(progress=kind == "progress")
            if kind == "snapshot":
                self._apply_snapshot(event.snapshot)
            elif kind == "update":
                self._apply_updates((event.update,))
            elif kind == "batch":
                self._apply_updates(event.batch.updates)
                self._metrics.batch()
            elif kind == "progress":
                self._apply_progress(event.progress)
                self._progress_armed.set()
            else:
                _log.warning("config stream: ignored an event of unknown kind")

    def _on_resume_answer(self, answer: ResumeAnswer | None) -> None:
        """Act on the core's answer to our resume point; None: the core gave none (see the timer)."""
        if answer is None or self._synced:
            return
        self._resume_answered = True
        if self._resuming_after is not None and answer is ResumeAnswer.ACCEPTED:
            self._resume("confirmed by the core")
        else:
            _log.debug(
                "config stream: the core answered %r to our resume point: a snapshot follows", answer.value
            )

    # --- applying events -------------------------------------------------------------------------

    def _apply_snapshot(self, snapshot: configstream_pb2.ConfigSnapshot) -> None:
        settings: dict[str, Setting] = {}
        sources: dict[str, Source] = {}  # a snapshot names few sources: each parsed once
        matches = self._filter.matches
        for wire in snapshot.settings:
            if not matches(wire.key):
                continue
            converted = self._convert(wire, sources)
            if converted is not None:
                settings[wire.key] = converted
        first = not self._ready.is_set()
        if not self._synced and self._resuming_after is not None:
            self._metrics.resume_refused()
            _log.debug("config stream: the core answered our resume point with a snapshot")
        changes = self._holder.replace(settings, snapshot.sequence_id, diff=not first)
        self._set_epoch(snapshot.epoch)
        self._synced = self._session_worked = True
        self._live_since = self._clock()
        self._metrics.snapshot(snapshot.sequence_id)
        self._set_state(ConsumerState.READY)
        if first:
            self._metrics.first_snapshot(self._clock() - self._started_at)
            self._ready.set()
            _log.info(
                "config stream: snapshot received from core agent at %s (%d settings, sequence id %d)",
                self._params.ipc_address,
                len(settings),
                snapshot.sequence_id,
            )
            return  # the initial view is read with reader(), not announced as changes
        _log.info(
            "config stream: resynchronised (%d settings, sequence id %d, %d changed)",
            len(settings),
            snapshot.sequence_id,
            len(changes),
        )
        self._hub.publish(changes)

    def _apply_updates(self, updates: Sequence[configstream_pb2.ConfigUpdate]) -> None:
        """Check a batch (or one update) whole, then apply it as one change of the view."""
        last = self._holder.sequence_id
        assignments: list[tuple[str, Setting | None]] = []
        applied: list[int] = []
        for update in updates:
            seq = update.sequence_id
            if not self._synced:
                if self._resuming_after is None:
                    self._gap(f"update {seq} received before any snapshot")
                self._check_follows(update, last, f"resuming after update {last}")
                self._resume(f"first update {seq}")
            elif seq <= last and last - seq < _WRAP_DISTANCE:
                self._metrics.stale()
                _log.debug("config stream: dropped stale update %d (last applied %d)", seq, last)
                continue
            else:
                self._check_follows(update, last, "sequence gap")
            last = seq
            applied.append(seq)
            wire = update.setting
            if not self._filter.matches(wire.key):
                continue  # from a core that does not filter: not part of this view
            if _removes_key(wire):
                assignments.append((wire.key, None))
                continue
            converted = self._convert(wire)
            if converted is not None:
                assignments.append((wire.key, converted))
            # Unreadable: the sequence id advances anyway (the core will not resend it) and the
            # previous value stays, which the next snapshot corrects.
        if not applied:
            return
        changes = self._holder.apply_many(assignments, last)
        for seq in applied:
            self._metrics.update(seq)
        if changes:
            self._hub.publish(changes)

    def _check_follows(self, update: configstream_pb2.ConfigUpdate, last: int, what: str) -> None:
        """Raise a gap unless ``update`` is the next event after the one with id ``last``."""
        seq = update.sequence_id
        if not self._filter.active:
            if seq != last + 1:
                self._gap(f"{what}: expected update {last + 1}, received {seq}")
            return
        previous = update.previous_sequence_id
        if previous == last or (previous == 0 and seq == last + 1):
            return
        self._gap(
            f"{what}: lost an event of the filtered stream: update {seq} follows event {previous} "
            f"on the core's side, the last one received was {last}"
        )

    def _apply_progress(self, progress: configstream_pb2.ConfigProgress) -> None:
        """A sign of life at the core's position ``progress.sequence_id`` (see the module docstring)."""
        seq, last = progress.sequence_id, self._holder.sequence_id
        ahead = seq > last or last - seq >= _WRAP_DISTANCE
        if progress.epoch and self._epoch and progress.epoch != self._epoch:
            self._gap(f"progress from core epoch {progress.epoch!r}, the view is of epoch {self._epoch!r}")
        if not self._synced:
            if self._resuming_after is None:
                _log.debug("config stream: progress %d before any snapshot, ignored", seq)
                return
            if ahead and not self._filter.active:
                self._gap(f"resuming after update {last}: progress at {seq} came before update {last + 1}")
            self._resume(f"progress at {seq}")
        elif ahead and not self._filter.active:
            self._gap(f"progress at sequence id {seq}, the last update received was {last}: lost updates")
        if ahead:
            self._holder.advance(seq)
        self._metrics.progress(self._holder.sequence_id)

    def _resume(self, how: str) -> None:
        """The current stream continues the view from where the last one left it."""
        self._synced = self._session_worked = True
        self._live_since = self._clock()
        self._metrics.resume()
        self._set_state(ConsumerState.READY)
        _log.info(
            "config stream: resumed after sequence id %d without a snapshot (%s)", self._resuming_after, how
        )

    def _set_epoch(self, epoch: str) -> None:
        if epoch != self._epoch:
            _log.debug("config stream: core epoch %r -> %r", self._epoch, epoch)
        self._epoch = epoch
        self._metrics.epoch(epoch)

    def _gap(self, reason: str) -> NoReturn:
        self._metrics.gap()
        self._set_epoch("")  # the next stream asks for a snapshot instead of resuming
        raise _AttemptError(f"{reason}; resynchronising with a new stream")

    def _convert(
        self, wire: configstream_pb2.ConfigSetting, sources: dict[str, Source] | None = None
    ) -> Setting | None:
        """The view's setting for a wire setting, or None (logged and counted) when unreadable;
        ``sources``: source names already parsed, completed by this call."""
        if not wire.key:
            self._metrics.invalid_setting()
            _log.error("config stream: skipped a setting without a key (source %r)", wire.source)
            return None
        try:
            value = from_value(wire.value) if wire.HasField("value") else None
        except (ValueError, TypeError) as exc:
            self._metrics.invalid_setting()
            _log.error("config stream: skipped setting %r: cannot read its value: %s", wire.key, exc)
            return None
        if sources is None:
            return Setting(value, parse_source(wire.source) or Source.UNKNOWN)
        source = sources.get(wire.source)
        if source is None:
            source = sources[wire.source] = parse_source(wire.source) or Source.UNKNOWN
        return Setting(value, source)


def _removes_key(wire: configstream_pb2.ConfigSetting) -> bool:
    """An unset that left no source holding the key: null value, no source (or the removed one)."""
    if not wire.unset_source:
        return False
    is_null = not wire.HasField("value") or wire.value.WhichOneof("kind") in (None, "null_value")
    return is_null and wire.source in ("", wire.unset_source)


def _stream_filter(params: Params) -> StreamFilter:
    """The stream filter of ``params``; raises ValueError naming a name that is not a key name."""
    return StreamFilter(filter_names("keys", params.keys), filter_names("prefixes", params.prefixes))
