"""The config stream consumer: a remote agent's streamed, always-readable view of the core's config.

Everything a remote-agent author needs is importable from here::

    from comp.core.configstreamconsumer import connect_config_stream

    async with connect_config_stream(name="my-agent") as config:   # finds the core like the CLI does
        level = config.get_string("log_level")
        port = config.get_int("my_agent.port", default=8125)
        async for change in config.changes(prefix="logs_config."):
            ...

With ``status=``, ``flare=`` or ``telemetry=`` (and ``listen=``) the agent also serves the core's
status, flare and telemetry queries (:mod:`comp.core.configstreamconsumer.serving`)::

    async def status() -> StatusSections:
        return {"state": "ok"}, {"queue": {"depth": "3"}}

    async with connect_config_stream(name="my-agent", status=status) as config:
        ...

Without asyncio, :class:`SyncConfigStream` runs the same stream on a background thread. Tests use
:mod:`comp.core.configstreamconsumer.mock`. Binaries compose the component itself (``def_``,
``impl``, ``container``); these facades are thin layers over it.
"""

from comp.core.configstreamconsumer.def_ import (
    ChangeEvent,
    ConsumerState,
    ConsumerStats,
    KeyNotStreamedError,
    Liveness,
    NotReadyError,
    Subscription,
)
from comp.core.configstreamconsumer.serving import FlareFiles
from comp.core.configstreamconsumer.serving import Sections as StatusSections
from comp.core.configstreamconsumer.stream import ConfigStream, Location, connect_config_stream
from comp.core.configstreamconsumer.threaded import ChangeCallback, SyncConfigStream
from pkg.config.errors import ConfigValueError
from pkg.config.reader import MissingSettingError, Reader
from pkg.config.sources import Source
from pkg.ipc.errors import IpcError

__all__ = [
    "ChangeCallback",
    "ChangeEvent",
    "ConfigStream",
    "ConfigValueError",
    "ConsumerState",
    "ConsumerStats",
    "FlareFiles",
    "IpcError",
    "KeyNotStreamedError",
    "Liveness",
    "Location",
    "MissingSettingError",
    "NotReadyError",
    "Reader",
    "Source",
    "StatusSections",
    "Subscription",
    "SyncConfigStream",
    "connect_config_stream",
]
