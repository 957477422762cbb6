"""The asyncio entry point for remote-agent authors: :func:`connect_config_stream`.

A thin facade over the consumer component: it locates the core agent the way the project's binaries
do, builds the component through its container, starts it, waits for the first snapshot and stops it
on exit::

    async with connect_config_stream(name="my-agent") as config:
        level = config.get_string("log_level")
        async for change in config.changes(prefix="logs_config."):
            print(change.key, change.new, change.source)

Given ``status=``, ``flare=`` or ``telemetry=`` (async functions, see
:mod:`comp.core.configstreamconsumer.serving`), it also builds the remote agent component through its
container: the agent serves them at ``listen=`` and appears in the core's status, flare and metrics.

:class:`ConfigStream` is what the block receives: the typed getters of
:class:`pkg.config.reader.Reader` over the streamed view, plus :meth:`ConfigStream.changes`. It wraps
any consumer ``Component``, so a test can hand it a mock (see
:class:`comp.core.configstreamconsumer.mock.MockConfigStream`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider

from comp.core.configstreamconsumer import def_ as consumer_def
from comp.core.configstreamconsumer.container import ConfigStreamConsumerContainer
from comp.core.configstreamconsumer.impl.streamfilter import filter_names
from comp.core.configstreamconsumer.reads import ConsumerReads, optional_path
from comp.core.configstreamconsumer.serving import AgentServing, FlareFiles, Sections, agent_serving
from comp.core.remoteagent.container import RemoteAgentContainer
from pkg.config.reader import Reader
from pkg.ipc.locate import locate_core_agent
from pkg.util.lifecycle import Lifecycle

__all__ = [
    "DEFAULT_READY_TIMEOUT",
    "ConfigStream",
    "Location",
    "build_consumer",
    "config_stream_params",
    "connect_config_stream",
]

DEFAULT_READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Location:
    """Where the core agent is, as the binaries' flags say it; every field is optional.

    ``config_file``: the core agent's ``datadog.yaml`` (``-c``); ``state_dir``: the directory of its
    auth token and IPC certificate (``--state-dir``); ``address``, ``auth_token_file``,
    ``cert_file``: explicit values, which win. With nothing given: ``DD_CMD_HOST``/``DD_CMD_PORT``
    or ``localhost:5001``, and the secrets in the core agent's default state directory.
    """

    config_file: Path | None = None
    state_dir: Path | None = None
    address: str | None = None
    auth_token_file: Path | None = None
    cert_file: Path | None = None


def config_stream_params(
    name: str,
    location: Location = Location(),
    *,
    environ: Mapping[str, str] | None = None,
    flavor: str | None = None,
    display_name: str | None = None,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    keys: Collection[str] | None = None,
    prefixes: Collection[str] | None = None,
    max_message_bytes: int | None = None,
) -> consumer_def.Params:
    """The consumer's parameters for an agent called ``name`` (also its flavor and display name
    unless given), streaming only ``keys`` and the keys under ``prefixes`` when either is given,
    accepting events of ``max_message_bytes`` (None: the core's ``agent_ipc.grpc_max_message_size``
    as located, see :func:`connect_config_stream`).
    Raises :class:`pkg.ipc.IpcError` naming the file or variable when the core agent's config file
    cannot be read or an address setting is unusable, ValueError on a blank name or a bad filter name,
    TypeError when ``keys`` or ``prefixes`` is a single string."""
    if not name.strip():
        raise ValueError("invalid config stream name: blank, expected the remote agent's name")
    filter_keys, filter_prefixes = filter_names("keys", keys), filter_names("prefixes", prefixes)
    found = locate_core_agent(
        location.config_file,
        location.state_dir,
        os.environ if environ is None else environ,
        address=location.address,
        auth_token_file=location.auth_token_file,
        cert_file=location.cert_file,
    )
    return consumer_def.Params(
        ipc_address=found.address,
        auth_token_file=found.auth_token,
        cert_file=found.ipc_cert,
        name=name,
        flavor=flavor or name,
        display_name=display_name or name,
        ready_timeout=ready_timeout,
        keys=filter_keys,
        prefixes=filter_prefixes,
        max_message_bytes=found.max_message_bytes if max_message_bytes is None else max_message_bytes,
    )


class _NoTelemetry:
    """The telemetry ``Component`` of an embedded consumer: OpenTelemetry's no-op provider."""

    def __init__(self) -> None:
        self._provider = NoOpMeterProvider()

    @property
    def meter_provider(self) -> MeterProvider:
        return self._provider

    def meter(self, namespace: str) -> Meter:
        return self._provider.get_meter(namespace)


def build_consumer(
    params: consumer_def.Params, lifecycle: Lifecycle, serving: AgentServing | None = None
) -> consumer_def.Component:
    """The consumer component as a binary composes it (its container), without telemetry export;
    its start and stop hooks are appended to ``lifecycle``. With ``serving``, the remote agent
    component first (its container), whose session the consumer takes. Raises ValueError on
    unusable params."""
    agent = None
    if serving is not None:
        agent = RemoteAgentContainer(lifecycle=lifecycle, params=serving.params, services=serving.services)
    container = ConfigStreamConsumerContainer(
        lifecycle=lifecycle,
        telemetry=_NoTelemetry(),
        params=params,
        session=None if agent is None else agent.component,
    )
    consumer: consumer_def.Component = container.component()
    return consumer


class ConfigStream(ConsumerReads):
    """The streamed view of the core agent's configuration, read with the typed getters.

    Reads never guess: a key absent from the view raises
    :class:`pkg.config.reader.MissingSettingError` (a ``KeyError``) unless ``default=`` is given, and
    a value of the wrong type raises :class:`pkg.config.errors.ConfigValueError`. While the core
    agent is unreachable the last good view keeps answering (see :attr:`state`).
    """

    def __init__(self, consumer: consumer_def.Component) -> None:
        self._consumer = consumer

    @property
    def component(self) -> consumer_def.Component:
        """The consumer component underneath."""
        return self._consumer

    def reader(self) -> Reader:
        return self._consumer.reader()

    async def wait_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the API
        """Until a snapshot has been applied; NotReadyError after ``timeout`` seconds."""
        await self._consumer.wait_ready(timeout)

    def changes(
        self, keys: Collection[str] | None = None, prefix: str | None = None
    ) -> consumer_def.Subscription:
        """Change events of ``keys`` or of the keys starting with ``prefix`` (all when neither), from
        this call on, in order; the iteration ends when the stream is closed."""
        return self._consumer.subscribe(keys, prefix)


@contextlib.asynccontextmanager
async def connect_config_stream(
    name: str,
    *,
    config_file: Path | str | None = None,
    state_dir: Path | str | None = None,
    address: str | None = None,
    auth_token_file: Path | str | None = None,
    cert_file: Path | str | None = None,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    environ: Mapping[str, str] | None = None,
    flavor: str | None = None,
    display_name: str | None = None,
    keys: Collection[str] | None = None,
    prefixes: Collection[str] | None = None,
    max_message_bytes: int | None = None,
    status: Callable[[], Awaitable[Sections]] | None = None,
    flare: Callable[[], Awaitable[FlareFiles]] | None = None,
    telemetry: Callable[[], Awaitable[str]] | None = None,
    listen: str | None = None,
) -> AsyncIterator[ConfigStream]:
    """Connect to the core agent as the remote agent ``name`` and yield its config once the first
    snapshot arrived; stop streaming on exit.

    ``keys`` / ``prefixes``: stream only these keys and the keys under these prefixes (``"apm_config"``
    covers ``apm_config.enabled``); reading another key then raises
    :class:`comp.core.configstreamconsumer.def_.KeyNotStreamedError`. Neither: every key.

    ``max_message_bytes``: the largest event accepted, which must be at least the core's
    ``agent_ipc.grpc_max_message_size`` (a larger snapshot fails the stream with
    ``RESOURCE_EXHAUSTED``). None: that setting as the core agent is located, from
    ``DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE``, then ``config_file``, else its declared default (4 MiB).

    ``status`` / ``flare`` / ``telemetry``: async functions answering the core's queries (see
    :mod:`comp.core.configstreamconsumer.serving`); with any of them the agent serves them on its own
    server at ``listen`` (``host:port``, port 0 for a free one, or ``unix:///path``; default
    ``127.0.0.1:0``) and registers once, for them and the stream. Serving starts before the first
    snapshot, and the core queries the agent as soon as it is registered.

    The core agent is found as ``sample-remote-agent`` finds it (see :class:`Location`). Raises
    :class:`comp.core.configstreamconsumer.def_.NotReadyError` (naming the address and the last
    failure) when no snapshot arrived within ``ready_timeout`` seconds, :class:`pkg.ipc.IpcError`
    when the location settings are unusable, TypeError / ValueError naming the argument when a
    provider or ``listen`` is unusable; nothing keeps running after an error.
    """
    location = Location(
        config_file=optional_path(config_file),
        state_dir=optional_path(state_dir),
        address=address,
        auth_token_file=optional_path(auth_token_file),
        cert_file=optional_path(cert_file),
    )
    params = config_stream_params(
        name,
        location,
        environ=environ,
        flavor=flavor,
        display_name=display_name,
        ready_timeout=ready_timeout,
        keys=keys,
        prefixes=prefixes,
        max_message_bytes=max_message_bytes,
    )
    serving = agent_serving(params, status=status, flare=flare, telemetry=telemetry, listen=listen)
    lifecycle = Lifecycle()
    stream = ConfigStream(build_consumer(params, lifecycle, serving))
    await lifecycle.start()
    try:
        await stream.wait_ready(ready_timeout)
        yield stream
    finally:
        await lifecycle.stop()
