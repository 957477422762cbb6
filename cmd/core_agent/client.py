"""Client side of ``core-agent config ...``, ``status``, ``flare`` and ``health``: one RPC to the running
agent.

Imported only when such a command runs. It stays light: no component, no ``cryptography`` (the
certificate file's key and dates are checked by the TLS handshake, and by ``cryptography`` only to
explain a failed one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core_agent.locations import EMBEDDED_CONFIG
from pkg.grpcutil import describe_rpc_error
from pkg.ipc import (
    AgentLocation,
    IpcError,
    auth_metadata,
    client_credentials,
    load_client_material,
    load_ipc_certificate,
    locate_core_agent,
    secure_channel,
)
from pkg.proto.gen.configstream.remoteagents.v1 import remoteagents_pb2, remoteagents_pb2_grpc
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.protoconv.values import from_value
from pkg.remoteagent.statusformat import format_remote_agents
from pkg.util.display import format_value

__all__ = ["ACTIONS", "ClientError", "run_client_command"]

PROG = "core-agent"


class ClientError(Exception):
    """A failure to report on stderr (one line, no traceback)."""


_TRANSPORT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED}
)


def _explain(error: grpc.aio.AioRpcError, endpoint: AgentLocation) -> str:
    """The agent's own refusals (a bad value, an unknown key) are worded for the operator already."""
    code = error.code()
    if code == grpc.StatusCode.UNAVAILABLE and (problem := _certificate_problem(endpoint)) is not None:
        return problem
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"{describe_rpc_error(endpoint.address, error)} (auth token from {endpoint.auth_token})"
    if code in _TRANSPORT_CODES:
        return describe_rpc_error(endpoint.address, error)
    return (error.details() or "").strip() or code.name


def _certificate_problem(endpoint: AgentLocation) -> str | None:
    """What is wrong with the certificate file, checked in full (a failed handshake may be its fault)."""
    try:
        load_ipc_certificate(endpoint.ipc_cert)
    except IpcError as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class _Connection:
    stub: settings_pb2_grpc.SettingsAsyncStub
    remote: remoteagents_pb2_grpc.RemoteAgentsAsyncStub
    health: health_pb2_grpc.HealthStub
    metadata: tuple[tuple[str, str], ...]
    address: str


_MAX_FLARE_BYTES = 512 * 1024 * 1024


@contextlib.asynccontextmanager
async def _connect(endpoint: AgentLocation) -> AsyncIterator[_Connection]:
    """A channel to the agent; RPC errors inside come out as ClientError with an explanation."""
    material = load_client_material(endpoint.auth_token, endpoint.ipc_cert, validate=False)
    credentials = client_credentials(material.cert_pem, material.key_pem)
    options = [("grpc.max_receive_message_length", _MAX_FLARE_BYTES)]
    async with secure_channel(endpoint.address, credentials, options) as channel:
        stub = settings_pb2_grpc.SettingsStub(channel)
        remote = remoteagents_pb2_grpc.RemoteAgentsStub(channel)
        try:
            health = health_pb2_grpc.HealthStub(channel)
            yield _Connection(stub, remote, health, auth_metadata(material.token), endpoint.address)
        except grpc.aio.AioRpcError as exc:
            raise ClientError(_explain(exc, endpoint)) from None


def _print_list(response: settings_pb2.ListSettingsResponse, out: TextIO) -> None:
    for setting in response.settings:
        value = format_value(from_value(setting.value), quote_empty=True)
        out.write(f"{setting.key} = {value} ({setting.source})\n")


def _print_runtime(response: settings_pb2.ListSettingsResponse, out: TextIO) -> None:
    width = max((len(s.key) for s in response.settings), default=0)
    for setting in response.settings:
        value = format_value(from_value(setting.value), quote_empty=True)
        out.write(f"{setting.key:<{width}}  {value}  {setting.description}".rstrip() + "\n")


def remote_agents_json(response: remoteagents_pb2.GetRemoteAgentStatusResponse) -> list[dict[str, Any]]:
    """The "Remote Agents" section as JSON-ready dicts (``error`` None when the agent answered)."""
    return [
        {
            "display_name": a.display_name,
            "flavor": a.flavor,
            "pid": a.pid,
            "session_id": a.session_id,
            "api_endpoint_uri": a.api_endpoint_uri,
            "error": a.error or None,
            "main_section": dict(a.status.main_section.fields),
            "named_sections": {name: dict(s.fields) for name, s in a.status.named_sections.items()},
        }
        for a in response.agents
    ]


def _registered_json(agent: settings_pb2.RemoteAgentStatus) -> dict[str, Any]:
    """A registered remote agent as the core sees it: identity, last refresh, its config stream."""
    return {
        "display_name": agent.display_name,
        "flavor": agent.flavor,
        "pid": agent.pid,
        "session_id": agent.session_id,
        "last_seen_unix": agent.last_seen_unix,
        "streaming": agent.streaming,
        "events_sent": agent.events_sent,
        "lagging": agent.lagging,
        "times_lagging": agent.times_lagging,
        "catch_ups": agent.catch_ups,
        "resyncs": agent.resyncs,
        "resumed": agent.resumed,
    }


def _status_json(response: settings_pb2.StatusResponse, remote: list[dict[str, Any]]) -> str:
    core = {
        "version": response.version,
        "pid": response.pid,
        "listen_address": response.listen_address,
        "started_unix": response.started_unix,
        "config_file": response.config_file,
        "sequence_id": response.sequence_id,
        "stream_subscribers": response.stream_subscribers,
        "health": response.health,
        "telemetry_url": response.telemetry_url or None,
        "stream": {
            "epoch": response.epoch,
            "history_events": response.history_events,
            "history_max_events": response.history_max_events,
            "history_bytes": response.history_bytes,
            "history_max_bytes": response.history_max_bytes,
        },
        "registered_agents": [_registered_json(a) for a in response.remote_agents],
    }
    if response.HasField("fleet"):
        core["fleet"] = _fleet_json(response.fleet)
    return json.dumps({"core": core, "remote_agents": remote}, indent=2, sort_keys=True) + "\n"


def _fleet_json(fleet: settings_pb2.FleetSourceStatus) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    fields = MessageToDict(fleet, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    for name in ("revision", "store_revision", "applied_keys", "refused", "resyncs", "reconnects"):
        fields[name] = getattr(fleet, name)  # int64 fields arrive as text in JSON form
    fields["lag"] = max(0, fleet.store_revision - fleet.revision)
    return fields


def _fleet_rows(fleet: settings_pb2.FleetSourceStatus, now: float) -> list[tuple[str, str]]:
    if not fleet.enabled:
        return [("fleet source", "off (remote_config.etcd.endpoints is empty)")]
    lag = max(0, fleet.store_revision - fleet.revision)
    changed = "never"
    if fleet.last_change_unix:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(fleet.last_change_unix))
        changed = f"{at} ({_duration(max(0.0, now - fleet.last_change_unix))} ago)"
    rows = [
        ("fleet source", f"{fleet.state}, values from {fleet.values_from}, on {fleet.endpoint}"),
        ("  endpoints", ", ".join(fleet.endpoints)),
        ("  prefix, scopes", f"{fleet.prefix}  {', '.join(fleet.scopes)}"),
        ("  revision", f"{fleet.revision} (etcd at {fleet.store_revision}, lag {lag})"),
        ("  last change", changed),
        (
            "  values",
            f"{fleet.applied_keys} applied, {fleet.refused} refused, {fleet.resyncs} re-reads, "
            f"{fleet.reconnects} reconnects",
        ),
    ]
    if fleet.stale_since_unix:
        since = _duration(max(0.0, now - fleet.stale_since_unix))
        rows.append(("  stale", f"for {since}: {fleet.stale_reason}"))
    return rows


def _write_flare(response: remoteagents_pb2.CreateFlareResponse, output: str | None, out: TextIO) -> None:
    import zipfile

    path = output or f"core-agent-flare-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.zip"
    try:
        with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(response.files):
                archive.writestr(name, response.files[name])
    except FileExistsError:
        raise ClientError(f"flare not written: {path} already exists") from None
    except OSError as exc:
        raise ClientError(f"flare not written to {path}: {exc.strerror or exc}") from None
    out.write(f"flare written to {os.path.abspath(path)} ({len(response.files)} files)\n")


def _print_status(response: settings_pb2.StatusResponse, out: TextIO) -> None:
    now = time.time()
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(response.started_unix))
    rows = [
        ("version", response.version or "unknown"),
        ("pid", str(response.pid)),
        ("listening on", response.listen_address),
        ("started", f"{started} (up {_duration(now - response.started_unix)})"),
        ("config file", response.config_file or "none"),
        ("health", response.health or "unknown"),
        ("telemetry", response.telemetry_url or "off"),
        ("stream epoch", response.epoch or "none"),
        ("sequence id", str(response.sequence_id)),
        (
            "history",
            f"{response.history_events}/{response.history_max_events} updates, "
            f"{response.history_bytes}/{response.history_max_bytes} bytes",
        ),
        ("stream subscribers", str(response.stream_subscribers)),
        ("remote agents", str(len(response.remote_agents))),
    ]
    if response.HasField("fleet"):
        rows[-1:-1] = _fleet_rows(response.fleet, now)
    out.write("core-agent status\n")
    for name, value in rows:
        out.write(f"  {name + ':':<20}{value}\n")
    for agent in response.remote_agents:
        seen = _duration(max(0.0, now - agent.last_seen_unix))
        out.write(
            f"    - {agent.display_name} (flavor {agent.flavor}, pid {agent.pid}, "
            f"session {agent.session_id}, last seen {seen} ago)\n"
        )
        out.write(f"      {_stream_line(agent)}\n")


def _stream_line(agent: settings_pb2.RemoteAgentStatus) -> str:
    if not agent.streaming:
        return "config stream: not streaming"
    state = "lagging" if agent.lagging else "live"
    return (
        f"config stream: {state}, {agent.events_sent} events sent, lagged {agent.times_lagging}x, "
        f"{agent.catch_ups} catch-ups, {agent.resyncs} resyncs, "
        + ("resumed" if agent.resumed else "started with a snapshot")
    )


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _settings_json(response: settings_pb2.ListSettingsResponse) -> str:
    settings = {
        s.key: {"value": from_value(s.value), "source": s.source, "masked": s.masked, "live": s.live}
        | ({"description": s.description} if s.description else {})
        for s in response.settings
    }
    return json.dumps({"settings": settings, "sequence_id": response.sequence_id}, indent=2) + "\n"


async def _list(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    live_only = args.action == "list-runtime"
    request = settings_pb2.ListSettingsRequest(prefix=args.prefix, live_only=live_only)
    response = await conn.stub.ListSettings(request, metadata=conn.metadata, timeout=args.timeout)
    if getattr(args, "json", False):
        out.write(_settings_json(response))
    elif live_only:
        _print_runtime(response, out)
    else:
        _print_list(response, out)


async def _get(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    request = settings_pb2.GetSettingRequest(key=args.key)
    got = await conn.stub.GetSetting(request, metadata=conn.metadata, timeout=args.timeout)
    if not got.found:
        raise ClientError(f"{args.key!r} is not set")
    value = from_value(got.setting.value)
    if args.json:
        shown = {"key": args.key, "value": value, "source": got.setting.source, "masked": got.setting.masked}
        out.write(json.dumps(shown, indent=2) + "\n")
        return
    text = format_value(value)
    out.write(f"{text} ({got.setting.source})\n" if args.source else f"{text}\n")


async def _set(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    values = dict(zip(args.pairs[::2], args.pairs[1::2], strict=True))
    request = settings_pb2.SetSettingsRequest(values=values)
    changed = await conn.stub.SetSettings(request, metadata=conn.metadata, timeout=args.timeout)
    out.write(f"set {', '.join(values)} at agent-runtime (sequence id {changed.sequence_id})\n")


async def _unset(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    request = settings_pb2.UnsetSettingRequest(key=args.key)
    unset = await conn.stub.UnsetSetting(request, metadata=conn.metadata, timeout=args.timeout)
    out.write(f"unset {args.key} at agent-runtime (sequence id {unset.sequence_id})\n")


async def _reload(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    request = settings_pb2.ReloadConfigRequest()
    report = await conn.stub.ReloadConfig(request, metadata=conn.metadata, timeout=args.timeout)
    changed = ", ".join(report.applied) or "nothing"
    source = report.config_file or "no config file"
    out.write(f"reloaded {source}: {changed} changed (sequence id {report.sequence_id})\n")
    if report.restart_required:
        out.write(f"needs a restart, not applied: {', '.join(report.restart_required)}\n")


async def _status(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    md, timeout = conn.metadata, args.timeout
    status = await conn.stub.Status(settings_pb2.StatusRequest(), metadata=md, timeout=timeout)
    remote_request = remoteagents_pb2.GetRemoteAgentStatusRequest()
    remote = remote_agents_json(
        await conn.remote.GetRemoteAgentStatus(remote_request, metadata=md, timeout=timeout)
    )
    if args.json:
        out.write(_status_json(status, remote))
    else:
        _print_status(status, out)
        out.write("\n" + format_remote_agents(remote))


async def _flare(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    request = remoteagents_pb2.CreateFlareRequest()
    flare = await conn.remote.CreateFlare(request, metadata=conn.metadata, timeout=args.timeout)
    _write_flare(flare, args.output, out)


async def _health(args: argparse.Namespace, conn: _Connection, out: TextIO) -> None:
    request = health_pb2.HealthCheckRequest(service="")
    answer = await conn.health.Check(request, timeout=args.timeout)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        raise ClientError(f"the agent at {conn.address} is {status}")
    out.write(f"{status}\n")


Action = Callable[[argparse.Namespace, _Connection, TextIO], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "list": _list,
    "list-runtime": _list,
    "get": _get,
    "set": _set,
    "unset": _unset,
    "reload": _reload,
    "status": _status,
    "flare": _flare,
    "health": _health,
}
"""Each client subcommand (``args.action``, set by the parser) and the function that runs it."""


async def _execute(args: argparse.Namespace, endpoint: AgentLocation, out: TextIO) -> None:
    action = ACTIONS.get(args.action)
    if action is None:  # pragma: no cover - the parser only sets the actions above
        raise ClientError(f"unknown action {args.action!r}")
    async with _connect(endpoint) as conn:
        await action(args, conn, out)


def run_client_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one client subcommand; 0 on success, 1 with one line on stderr on failure."""
    stdout = sys.stdout if out is None else out
    stderr = sys.stderr if err is None else err
    try:
        config, state_dir = getattr(args, "config", None), getattr(args, "state_dir", None)
        endpoint = locate_core_agent(config, state_dir, os.environ, embedded_config=EMBEDDED_CONFIG)
        asyncio.run(_execute(args, endpoint, stdout))
    except (ClientError, IpcError) as exc:
        stderr.write(f"{PROG}: {exc}\n")
        return 1
    return 0
