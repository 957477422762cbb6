"""Definition of the config stream consumer, the remote-agent side of the config stream.

The consumer registers with the core agent's remote agent registry, streams its effective
configuration (a snapshot, then ordered updates) and keeps a local view of it::

    await consumer.start()                       # also run as a lifecycle hook
    await consumer.wait_ready(5.0)               # NotReadyError after 5 s, naming address and cause
    level = consumer.reader().get_string("log_level")
    async for change in consumer.subscribe(prefix="logs_config."):
        print(change.key, change.new, change.source)

While the core agent cannot be reached the last good view keeps answering; the consumer reconnects
with exponential backoff and jitter, and on reconnect reports the keys that changed meanwhile.

Resume (an extension of the wire contract): every stream request carries ``resume_from`` with the
epoch of the last snapshot and the last applied sequence id. A core that supports it continues the
view with the updates that were missed instead of a full snapshot; any other core (the Go agent)
ignores the field and sends a snapshot as usual.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pkg.config.reader import Reader
from pkg.config.sources import Source
from pkg.ipc import ClientMaterial

__all__ = [
    "DEFAULT_IPC_ADDRESS",
    "MIN_KEEPALIVE_TIME",
    "BackoffPolicy",
    "ChangeEvent",
    "Component",
    "ConsumerState",
    "ConsumerStats",
    "NotReadyError",
    "Params",
    "Reader",
    "SessionSource",
    "Source",
    "Subscription",
]

DEFAULT_IPC_ADDRESS = "localhost:5001"

MIN_KEEPALIVE_TIME = 1.0
"""Shortest ``Params.keepalive_time`` (seconds): the core agent's gRPC server treats a client that
pings more often as abusive and closes its connection."""

_MAX_SECONDS = 86400.0  # gRPC takes keepalive milliseconds as a 32-bit int


class ConsumerState(StrEnum):
    """``connecting``: registering, or waiting for a stream's snapshot (for a resumed stream: the core's
    answer in the stream's headers; from a core that sends none, its first update or
    ``Params.resume_quiet_period`` without any event); ``ready``: the view follows a live stream;
    ``disconnected``: no stream (waiting to retry, or stopped), the last view answers."""

    CONNECTING = "connecting"
    READY = "ready"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change of one key's effective value in the view.

    ``old`` / ``new`` are None when the key was absent before / is absent now; ``source`` is the
    source of the new value (None when the key disappeared).
    """

    key: str
    old: Any
    new: Any
    source: Source | None


class NotReadyError(TimeoutError):
    """No snapshot arrived in time; the message says where the consumer connects and why it failed."""


@runtime_checkable
class SessionSource(Protocol):
    """Where the consumer takes its session when the agent registers elsewhere (the remote agent
    component): the consumer then neither registers nor refreshes, and reports a refused session."""

    @property
    def last_error(self) -> str | None:
        """Why there is no session yet (shown in the consumer's errors)."""
        ...

    async def current_session(self) -> str:
        """The current session, waiting for a registration in progress; raises ConnectionError
        saying why when there is none (the last registration failed)."""
        ...

    def session_lost(self, session_id: str) -> None:
        """The core refused ``session_id``: register again."""
        ...


@runtime_checkable
class Subscription(Protocol):
    """An async iterator of :class:`ChangeEvent`; ends when closed or when the consumer stops."""

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> ChangeEvent: ...

    def close(self) -> None:
        """Unsubscribe; idempotent. Events already pending are still delivered, then iteration ends."""
        ...


@dataclass(frozen=True)
class BackoffPolicy:
    """Delays between reconnection attempts.

    The n-th consecutive retry waits ``min(cap, initial * multiplier**n)`` reduced by a random part
    of up to ``jitter`` of it (so a delay never exceeds ``cap``). A stream that stayed up for
    ``healthy_reset`` seconds starts the sequence again from ``initial``.
    """

    initial: float = 0.5
    multiplier: float = 2.0
    cap: float = 30.0
    jitter: float = 0.2
    healthy_reset: float = 30.0

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ValueError(f"invalid backoff initial delay: {self.initial!r}, expected a number > 0")
        if not self.multiplier >= 1:
            raise ValueError(f"invalid backoff multiplier: {self.multiplier!r}, expected a number >= 1")
        if not self.cap >= self.initial:
            raise ValueError(
                f"invalid backoff cap: {self.cap!r}, expected a number >= the initial delay {self.initial!r}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff jitter: {self.jitter!r}, expected a fraction in [0, 1)")
        if not self.healthy_reset >= 0:
            raise ValueError(f"invalid backoff healthy_reset: {self.healthy_reset!r}, expected seconds >= 0")


@dataclass(frozen=True)
class Params:
    """Inputs of the consumer.

    Credentials: ``material`` when given, else read from ``auth_token_file`` and ``cert_file`` at
    every connection attempt (the core agent creates them at its first start, so a
    remote agent may start first). ``name`` is sent in the stream request; ``flavor`` and
    ``display_name`` at registration. ``refresh_interval``: seconds between session refreshes (None:
    the interval the core recommends; 0: never refresh). ``rpc_timeout`` bounds each registration or
    refresh call; ``ready_timeout`` is the default of :meth:`Component.wait_ready`;
    ``subscriber_queue_size`` is the number of events a subscriber may have pending before its
    changes are coalesced by key. ``resume_quiet_period``: this project's core answers a resume in the
    stream's headers (``configstream-resume``); from a core that does not, a resumed stream with no
    update missed carries nothing, so a resumed stream silent for that many seconds after the channel
    connected is taken as live (a refused resume is answered with a snapshot, which replaces the view
    whenever it comes). ``keepalive_time``: seconds of silence on the connection after which the
    consumer pings the core (HTTP/2 PING, also during a silent stream); ``keepalive_timeout``: seconds
    it waits for the answer before dropping the connection, so a core that hangs (stopped, deadlocked,
    or behind a half-open connection) is noticed within about their sum: the stream ends, the state
    goes ``disconnected`` and the consumer reconnects. The core tolerates pings as often as every
    ``MIN_KEEPALIVE_TIME`` seconds; a shorter ``keepalive_time`` is refused. ``max_message_bytes``:
    the largest event accepted, the core's ``agent_ipc.grpc_max_message_size`` (default 4 MiB).

    For tests: ``rand`` (values in [0, 1)) draws the backoff jitter and ``clock`` measures healthy
    periods, so delays can be checked without waiting for them.

    Raises ValueError naming the field, the value and what is expected when a value cannot work.
    """

    ipc_address: str = DEFAULT_IPC_ADDRESS
    auth_token_file: Path | None = None
    cert_file: Path | None = None
    material: ClientMaterial | None = None
    name: str = "remote-agent"
    flavor: str = "remote-agent"
    display_name: str = "Remote Agent"
    backoff: BackoffPolicy = BackoffPolicy()
    refresh_interval: float | None = None
    rpc_timeout: float = 5.0
    ready_timeout: float = 30.0
    subscriber_queue_size: int = 1024
    resume_quiet_period: float = 1.0
    keepalive_time: float = 15.0
    keepalive_timeout: float = 5.0
    max_message_bytes: int = 4 * 1024 * 1024
    rand: Callable[[], float] = field(default=random.random, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.ipc_address.strip():
            raise ValueError("invalid config stream consumer ipc_address: empty, expected host:port")
        if self.material is None and (self.auth_token_file is None or self.cert_file is None):
            raise ValueError(
                "config stream consumer needs the IPC auth token and certificate: "
                "give auth_token_file and cert_file, or material"
            )
        if not self.display_name.strip():
            raise ValueError("invalid config stream consumer display_name: blank, expected a name")
        if not self.rpc_timeout > 0:
            raise ValueError(
                f"invalid config stream consumer rpc_timeout: {self.rpc_timeout!r}, expected > 0"
            )
        if not self.resume_quiet_period > 0:
            raise ValueError(
                "invalid config stream consumer resume_quiet_period: "
                f"{self.resume_quiet_period!r}, expected seconds > 0"
            )
        if not MIN_KEEPALIVE_TIME <= self.keepalive_time <= _MAX_SECONDS:
            raise ValueError(
                f"invalid config stream consumer keepalive_time: {self.keepalive_time!r}, expected "
                f"seconds from {MIN_KEEPALIVE_TIME:g} (the core agent refuses more frequent pings) "
                f"to {_MAX_SECONDS:g}"
            )
        if not 0 < self.keepalive_timeout <= _MAX_SECONDS:
            raise ValueError(
                "invalid config stream consumer keepalive_timeout: "
                f"{self.keepalive_timeout!r}, expected seconds > 0 and <= {_MAX_SECONDS:g}"
            )
        if not 0 < self.max_message_bytes < 2**31:
            raise ValueError(
                "invalid config stream consumer max_message_bytes: "
                f"{self.max_message_bytes!r}, expected bytes > 0 and < 2**31"
            )
        if self.refresh_interval is not None and not self.refresh_interval >= 0:
            raise ValueError(
                f"invalid config stream consumer refresh_interval: {self.refresh_interval!r}, expected >= 0"
            )


@dataclass(frozen=True)
class ConsumerStats:
    """Counters since start (also exported as telemetry in namespace ``configstream_consumer``).

    ``reconnect_delays``: the backoff delays chosen (the last 1000), oldest first. ``last_error``: why
    the last connection attempt or stream failed. ``resumes``: streams that continued the view
    without a snapshot; ``resumes_refused``: streams that asked to resume and began with a snapshot.
    ``epoch``: the core's name of the view's sequence id space, from the last snapshot ("" when the
    core sent none, or after a gap: the next stream then asks for a snapshot).
    """

    registrations: int
    reconnects: int
    snapshots: int
    updates: int
    gaps: int
    stale_events_dropped: int
    subscriber_overflows: int
    invalid_settings: int
    reconnect_delays: tuple[float, ...]
    last_error: str | None
    resumes: int = 0
    resumes_refused: int = 0
    epoch: str = ""


@runtime_checkable
class Component(Protocol):
    """A streamed, read-only view of the core agent's effective configuration."""

    async def start(self) -> None:
        """Begin connecting in the background; returns at once. Idempotent."""
        ...

    async def stop(self) -> None:
        """Stop streaming and end every subscription. Idempotent."""
        ...

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the API
        """Return once a snapshot has been applied; raise :class:`NotReadyError` after ``timeout``
        seconds (default ``Params.ready_timeout``)."""
        ...

    def reader(self) -> Reader:
        """Typed getters over the current view (empty until the first snapshot)."""
        ...

    def subscribe(self, keys: Collection[str] | None = None, prefix: str | None = None) -> Subscription:
        """Changes of the keys in ``keys`` or starting with ``prefix`` (all keys when neither is given),
        from this call on, in order. Ends when the consumer stops. The first snapshot is the initial
        state (read it with :meth:`reader`); a later one (after a reconnect or a resync) publishes one
        event per key that differs from the previous view (a resumed stream publishes each missed update
        instead, as it is applied). A subscriber that falls more than
        ``Params.subscriber_queue_size`` events behind gets its further changes coalesced by key (one
        event per key from the oldest pending ``old`` to the latest ``new``): values in between may be
        skipped, the latest value of every key never is."""
        ...

    @property
    def state(self) -> ConsumerState: ...

    @property
    def sequence_id(self) -> int:
        """Sequence id of the last applied event (-1 before the first snapshot)."""
        ...

    @property
    def stats(self) -> ConsumerStats: ...
