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

Further extensions, each asked for in the stream request and ignored by a core that does not know it
(the consumer then sees exactly the plain stream and behaves as it always did):

- batches (``Params.max_batch_updates``): several consecutive updates in one message, applied as one
  change of the view and reported one by one, in order;
- key filters (``Params.keys`` / ``Params.prefixes``): only the matching keys are streamed (and kept:
  the consumer filters a core's unfiltered stream itself); reading any other key raises
  :class:`KeyNotStreamedError`. Each update of a filtered stream names the event sent before it, so a
  lost event is detected like a sequence gap;
- progress (``Params.progress``): on a quiet stream the core says where it is now and then, so the
  consumer knows a quiet stream from a stuck one (:class:`Liveness`) and reconnects a stream that stopped
  sending them (``Params.stall_multiple``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pkg.config.errors import ConfigError
from pkg.config.reader import Reader
from pkg.config.sources import Source
from pkg.ipc import DEFAULT_ADDRESS, DEFAULT_MAX_MESSAGE_BYTES, ClientMaterial

__all__ = [
    "DEFAULT_IPC_ADDRESS",
    "DEFAULT_MAX_BATCH_UPDATES",
    "MAX_FILTER_NAMES",
    "MIN_KEEPALIVE_TIME",
    "BackoffPolicy",
    "ChangeEvent",
    "Component",
    "ConsumerState",
    "ConsumerStats",
    "KeyNotStreamedError",
    "Liveness",
    "NotReadyError",
    "Params",
    "Reader",
    "SessionSource",
    "Source",
    "Subscription",
]

DEFAULT_IPC_ADDRESS = DEFAULT_ADDRESS
"""The core's declared ``cmd_host:cmd_port`` (``localhost:5001``)."""

MIN_KEEPALIVE_TIME = 1.0
"""Shortest ``Params.keepalive_time`` (seconds): the core agent's gRPC server treats a client that
pings more often as abusive and closes its connection."""

DEFAULT_MAX_BATCH_UPDATES = 256
"""Default of ``Params.max_batch_updates``."""

MAX_FILTER_NAMES = 1024
"""Most names in a stream filter (``Params.keys`` and ``Params.prefixes`` together)."""

_MAX_SECONDS = 86400.0  # gRPC takes keepalive milliseconds as a 32-bit int
_MIN_STALL_MULTIPLE = 1.5  # the core jitters its progress interval by up to 20% either way


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


class KeyNotStreamedError(ConfigError, LookupError):
    """A read of a key that the stream's filter excludes: the view cannot know its value, so no default
    is returned either. ``key``: the key read; ``keys`` / ``prefixes``: the filter."""

    def __init__(self, key: str, keys: Collection[str], prefixes: Collection[str]) -> None:
        self.key = key
        self.keys = tuple(keys)
        self.prefixes = tuple(prefixes)
        parts = []
        if self.keys:
            parts.append("keys " + ", ".join(repr(k) for k in self.keys))
        if self.prefixes:
            parts.append("prefixes " + ", ".join(repr(p) for p in self.prefixes))
        super().__init__(
            f"setting {key!r} is outside the config stream's filter ({'; '.join(parts)}): "
            "add it to keys= or prefixes= to read it"
        )


@dataclass(frozen=True)
class Liveness:
    """What the consumer last heard from the core agent. Times are ``Requires.clock`` readings
    (``time.monotonic()`` seconds); None: never.

    A stream whose core sends progress events is *quiet* while they keep coming, and *stuck* once it
    stays silent for ``stall_timeout``: the consumer then drops it and reconnects (resuming).
    """

    last_event_at: float | None
    """When the last event of any kind (snapshot, update, batch, progress) arrived, on any stream."""
    last_progress_at: float | None
    """When the last progress event arrived, on any stream."""
    progress_interval: float | None
    """The longest silence before a progress event seen on the current stream (the last 8 of them):
    how long the core usually takes to say something. None until the current stream sent progress."""
    stall_timeout: float | None
    """Silence after which the current stream counts as stuck (``Params.stall_multiple`` times
    ``progress_interval``, at least 1 s); None when not armed (no progress on this stream yet, or
    detection off)."""


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
    """Inputs of the consumer; every field has a working default except the credentials.

    Raises ValueError naming the field, the value and what is expected when a value cannot work (the
    names of ``keys`` and ``prefixes`` are checked when the consumer is built, against its schema).
    """

    ipc_address: str = DEFAULT_IPC_ADDRESS
    """The core agent's IPC address, ``host:port``."""
    auth_token_file: Path | None = None
    """The core agent's auth token file, read at every connection attempt (the core creates it at its
    first start, so a remote agent may start first). Unused when ``material`` is given."""
    cert_file: Path | None = None
    """The IPC certificate (PEM certificate and key), read like ``auth_token_file``."""
    material: ClientMaterial | None = None
    """Token and certificate already loaded; wins over the two files."""
    name: str = "remote-agent"
    """Sent in the stream request, for the core's logs and status."""
    flavor: str = "remote-agent"
    """Sent at registration (the kind of agent)."""
    display_name: str = "Remote Agent"
    """Sent at registration (the name the core shows); not blank."""
    backoff: BackoffPolicy = BackoffPolicy()
    """Delays between reconnection attempts."""
    refresh_interval: float | None = None
    """Seconds between session refreshes; None: the interval the core recommends; 0: never refresh."""
    rpc_timeout: float = 5.0
    """Bound of each registration or refresh call, in seconds."""
    ready_timeout: float = 30.0
    """Default timeout of :meth:`Component.wait_ready`, in seconds."""
    subscriber_queue_size: int = 1024
    """Events a subscriber may have pending before its changes are coalesced by key."""
    resume_quiet_period: float = 1.0
    """This project's core answers a resume in the stream's headers (``configstream-resume``); from a
    core that does not, a resumed stream with no update missed carries nothing, so a resumed stream
    silent for this many seconds after the channel connected is taken as live (a refused resume is
    answered with a snapshot, which replaces the view whenever it comes)."""
    keepalive_time: float = 15.0
    """Seconds of silence on the connection after which the consumer pings the core (HTTP/2 PING, also
    during a silent stream). The core tolerates pings as often as every ``MIN_KEEPALIVE_TIME``
    seconds; a shorter time is refused."""
    keepalive_timeout: float = 5.0
    """Seconds to wait for a ping's answer before dropping the connection, so that a core that hangs
    (stopped, deadlocked, behind a half-open connection) is noticed within about
    ``keepalive_time + keepalive_timeout``: the stream ends, the state goes ``disconnected`` and the
    consumer reconnects."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """The largest event accepted: the core's ``agent_ipc.grpc_max_message_size`` (by default its
    declared default, 4 MiB)."""
    max_batch_updates: int = DEFAULT_MAX_BATCH_UPDATES
    """Most updates the core may send in one batch message (0: ask for no batches). A batch is applied
    as one change of the view (a reader never sees half of one) and reported one change at a time, in
    order, as if its updates had come one by one."""
    keys: tuple[str, ...] = ()
    """Stream only these keys (plus the ``prefixes``); with neither, every key. Names are canonical
    lower-case dotted keys (an old name is replaced by its current one). Reading a key outside the
    filter raises :class:`KeyNotStreamedError`. At most ``MAX_FILTER_NAMES`` names in all."""
    prefixes: tuple[str, ...] = ()
    """Stream the keys equal to one of these or under it: ``"apm_config"`` matches ``apm_config`` and
    ``apm_config.enabled``, not ``apm_configx``."""
    progress: bool = True
    """Ask the core for progress events on a quiet stream (a core that does not send them works as
    before; only stall detection stays off)."""
    stall_multiple: float = 3.0
    """A stream that has sent progress events is taken as stuck, and reconnected (resuming), once it
    stays silent for this many times its usual silence (:attr:`Liveness.progress_interval`), and at
    least 1 s; 0 turns stall detection off. At least 1.5, since the core jitters its progress
    interval. A core that never sends progress is never judged (the keepalive pings watch it)."""
    rand: Callable[[], float] = field(default=random.random, repr=False)
    """For tests: draws the backoff jitter (values in [0, 1)), so delays can be checked."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    """For tests: monotonic seconds, measuring healthy periods and stalls."""

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
        if not 0 <= self.max_batch_updates < 2**31:
            raise ValueError(
                "invalid config stream consumer max_batch_updates: "
                f"{self.max_batch_updates!r}, expected 0 (no batches) to 2**31 - 1"
            )
        if not (self.stall_multiple == 0 or self.stall_multiple >= _MIN_STALL_MULTIPLE):
            raise ValueError(
                "invalid config stream consumer stall_multiple: "
                f"{self.stall_multiple!r}, expected 0 (off) or at least {_MIN_STALL_MULTIPLE:g}"
            )


@dataclass(frozen=True)
class ConsumerStats:
    """Counters since start (also exported as telemetry in namespace ``configstream_consumer``).

    ``registrations``: sessions the stream got: registrations it made itself, or new sessions of the
    registration component it takes them from. ``reconnect_delays``: the backoff delays chosen (the
    last 1000), oldest first. ``last_error``: why
    the last connection attempt or stream failed. ``resumes``: streams that continued the view
    without a snapshot; ``resumes_refused``: streams that asked to resume and began with a snapshot.
    ``epoch``: the core's name of the view's sequence id space, from the last snapshot ("" when the
    core sent none, or after a gap: the next stream then asks for a snapshot). ``batches``: batch
    messages applied (their updates count in ``updates``); ``progress_events``: progress events
    received; ``stalls``: streams dropped because they stopped sending events or progress.
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
    batches: int = 0
    progress_events: int = 0
    stalls: int = 0


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

    @property
    def liveness(self) -> Liveness:
        """When the core was last heard from, and how long a silence would count as a stall."""
        ...
