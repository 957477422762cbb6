"""The ``configstream.settings.v1.Settings`` gRPC service over the settings component."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import struct_pb2

from comp.api.grpcserver.def_ import GrpcService
from comp.core.settings.def_ import Component, SettingsQuotaError, SettingsValueError, SettingView
from comp.core.settings.impl.change_log import ChangeLog
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.protoconv.values import to_value

__all__ = [
    "MAX_DETAILS",
    "OFF_LOOP_CHARS",
    "SERVICE_NAME",
    "SettingsService",
    "displayable_text",
    "grpc_service",
]

SERVICE_NAME: str = settings_pb2.DESCRIPTOR.services_by_name["Settings"].full_name
OFF_LOOP_CHARS = 64 * 1024
"""A SetSettings whose texts hold more characters is parsed and applied on a worker thread: YAML
costs several µs a node, and meanwhile the event loop keeps serving other calls (the interpreter
lock passes between threads every few ms)."""
MAX_DETAILS = 1024
"""Characters of an error's text sent as a status's details: a refused value of a megabyte must not
make the status itself too big for gRPC's metadata limits."""

_log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


def _proto_value(key: str, value: Any) -> struct_pb2.Value:
    try:
        return to_value(value)
    except Exception as exc:  # no abort inside: a value that cannot be converted is shown as text
        _log.error("setting %r: cannot convert its value to a protobuf value (%s); sending text", key, exc)
        return struct_pb2.Value(string_value=displayable_text(value))


def displayable_text(value: Any) -> str:
    """``value`` as text that protobuf can carry: code points UTF-8 cannot encode (lone surrogates,
    from a YAML ``\\u`` escape or undecodable bytes in an environment variable) are escaped the way
    ``repr`` does (``\\ud800``), and a value whose ``str`` fails is shown by its type."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _code(error: SettingsValueError) -> grpc.StatusCode:
    if isinstance(error, SettingsQuotaError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INVALID_ARGUMENT


def _details(error: Exception) -> str:
    text = displayable_text(str(error)).replace("\n", " ")
    return text if len(text) <= MAX_DETAILS else text[: MAX_DETAILS - 3] + "..."


def _proto_setting(view: SettingView) -> settings_pb2.Setting:
    return settings_pb2.Setting(
        key=displayable_text(view.key),
        value=_proto_value(view.key, view.value),
        source=view.source,
        masked=view.masked,
        live=view.live,
        description=view.description,
    )


class SettingsService(settings_pb2_grpc.SettingsServicer):
    """Maps each RPC onto the component; bad input answers INVALID_ARGUMENT with the reason, a change
    that would make the settings too big together RESOURCE_EXHAUSTED (as etcd answers a write over
    its quota)."""

    def __init__(self, settings: Component, change_log: ChangeLog | None = None) -> None:
        self._settings = settings
        self._change_log = change_log if change_log is not None else ChangeLog(_log)

    async def GetSetting(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.GetSettingRequest, context: Context
    ) -> settings_pb2.GetSettingResponse:
        if not request.key:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no key given")
        view = self._settings.get(request.key)
        if view is None:
            return settings_pb2.GetSettingResponse(found=False)
        return settings_pb2.GetSettingResponse(setting=_proto_setting(view), found=True)

    async def ListSettings(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.ListSettingsRequest, context: Context
    ) -> settings_pb2.ListSettingsResponse:
        views, sequence_id = self._settings.list(request.prefix, live_only=request.live_only)
        return settings_pb2.ListSettingsResponse(
            settings=[_proto_setting(v) for v in views], sequence_id=sequence_id
        )

    async def SetSettings(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.SetSettingsRequest, context: Context
    ) -> settings_pb2.SetSettingsResponse:
        values = dict(request.values)
        try:
            if sum(len(text) for text in values.values()) > OFF_LOOP_CHARS:
                sequence_id = await asyncio.to_thread(self._settings.set_from_text, values)
            else:
                sequence_id = self._settings.set_from_text(values)
        except SettingsValueError as exc:
            await context.abort(_code(exc), _details(exc))
        self._change_log.record(request.values, sequence_id)
        return settings_pb2.SetSettingsResponse(sequence_id=sequence_id)

    async def UnsetSetting(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.UnsetSettingRequest, context: Context
    ) -> settings_pb2.UnsetSettingResponse:
        try:
            sequence_id = self._settings.unset(request.key)
        except SettingsValueError as exc:
            await context.abort(_code(exc), _details(exc))
        self._change_log.record((request.key,), sequence_id, removed=True)
        return settings_pb2.UnsetSettingResponse(sequence_id=sequence_id)

    async def ReloadConfig(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.ReloadConfigRequest, context: Context
    ) -> settings_pb2.ReloadConfigResponse:
        try:
            report = await asyncio.to_thread(self._settings.reload)  # reads a file
        except SettingsValueError as exc:
            await context.abort(_code(exc), _details(exc))
        return settings_pb2.ReloadConfigResponse(
            applied=report.applied,
            restart_required=report.restart_required,
            sequence_id=report.sequence_id,
            config_file=displayable_text(report.config_file),
        )

    async def Status(  # noqa: N802 - names fixed by the proto
        self, request: settings_pb2.StatusRequest, context: Context
    ) -> settings_pb2.StatusResponse:
        status = self._settings.status()
        stream = status.stream
        return settings_pb2.StatusResponse(
            started_unix=status.started_unix,
            listen_address=status.listen_address,
            sequence_id=status.sequence_id,
            remote_agents=[
                settings_pb2.RemoteAgentStatus(
                    display_name=a.display_name,
                    flavor=a.flavor,
                    pid=a.pid,
                    last_seen_unix=a.last_seen_unix,
                    session_id=a.session_id,
                    streaming=a.stream is not None,
                    events_sent=a.stream.events_sent if a.stream else 0,
                    lagging=a.stream.lagging if a.stream else False,
                    times_lagging=a.stream.times_lagging if a.stream else 0,
                    catch_ups=a.stream.catch_ups if a.stream else 0,
                    resyncs=a.stream.resyncs if a.stream else 0,
                    resumed=a.stream.resumed if a.stream else False,
                )
                for a in status.remote_agents
            ],
            version=status.version,
            pid=status.pid,
            config_file=status.config_file,
            stream_subscribers=status.stream_subscribers,
            fleet=settings_pb2.FleetSourceStatus(**_fleet_fields(status.fleet)) if status.fleet else None,
            epoch=stream.epoch if stream else "",
            history_events=stream.history_events if stream else 0,
            history_max_events=stream.history_max_events if stream else 0,
            history_bytes=stream.history_bytes if stream else 0,
            history_max_bytes=stream.history_max_bytes if stream else 0,
            health=status.health,
            telemetry_url=status.telemetry_url,
        )


def _fleet_fields(fleet: Mapping[str, Any]) -> dict[str, Any]:
    """The fleet status fields the message carries (times absent are 0)."""
    fields = {k: v for k, v in fleet.items() if k in settings_pb2.FleetSourceStatus.DESCRIPTOR.fields_by_name}
    for key in ("last_change_unix", "stale_since_unix"):
        fields[key] = fields.get(key) or 0.0
    return fields


def grpc_service(settings: Component, change_log: ChangeLog | None = None) -> GrpcService:
    """The contribution to the IPC gRPC server; changes are logged to ``change_log``."""
    servicer = SettingsService(settings, change_log)
    return GrpcService(
        names=(SERVICE_NAME,),
        register=lambda server: settings_pb2_grpc.add_SettingsServicer_to_server(servicer, server),
    )
