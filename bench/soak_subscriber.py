"""Soak subscriber process: config-stream subscribers that keep their view and account for every id.

``python -m bench.soak_subscriber --target HOST:PORT --token-file F --cert-file F --count N --name S``

Each subscriber has its own channel, registers, refreshes its session every ``--refresh`` seconds
like a remote agent, and streams. When its stream ends (the session was evicted, the core ended it)
it registers again and reopens it. It keeps the view the events build and checks the sequence ids:
an update must be the last id + 1 (a *gap* otherwise: an update was lost), a snapshot must not go
below the last id (*backwards*). JSON lines on stdin drive it, answers on stdout:

- (once every subscriber has its first snapshot) ``{"event": "ready"}``
- ``{"cmd": "report", "seq": S, "timeout": t}``: wait until every subscriber is at ``S`` or beyond
  (at most ``t`` seconds), then ``{"event": "report", "subscribers": [{name, seq, digest, ...}]}``
- ``{"cmd": "exit"}``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from pkg.ipc import auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from pkg.protoconv.values import from_value

__all__ = ["SubscriberAccount", "main", "view_digest"]

_FLAVOR = "soak-subscriber"
_RECONNECT_DELAY = 0.2


def view_digest(view: Mapping[str, tuple[Any, str]]) -> str:
    """A digest of ``key -> (value, source)``, equal for equal views (the driver computes the core's)."""
    text = json.dumps(sorted((k, v, s) for k, (v, s) in view.items()), default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


@dataclass
class SubscriberAccount:
    """What one subscriber saw: its view, its last sequence id and the anomalies."""

    name: str
    view: dict[str, tuple[Any, str]] = field(default_factory=dict)
    last_seq: int = -1
    snapshots: int = 0
    updates: int = 0
    gaps: list[str] = field(default_factory=list)
    backwards: list[str] = field(default_factory=list)
    streams: int = 0
    registrations: int = 0
    ended: dict[str, int] = field(default_factory=dict)

    def apply(self, event: configstream_pb2.ConfigEvent) -> None:
        if event.HasField("snapshot"):
            snapshot = event.snapshot
            if snapshot.sequence_id < self.last_seq:
                self.backwards.append(f"snapshot {snapshot.sequence_id} after {self.last_seq}")
            self.view = {s.key: (from_value(s.value), s.source) for s in snapshot.settings}
            self.last_seq = snapshot.sequence_id
            self.snapshots += 1
        elif event.HasField("update"):
            update = event.update
            if self.last_seq < 0:
                self.gaps.append(f"update {update.sequence_id} before any snapshot")
            elif update.sequence_id != self.last_seq + 1:
                bucket = self.gaps if update.sequence_id > self.last_seq else self.backwards
                bucket.append(f"update {update.sequence_id} after {self.last_seq}")
            self.last_seq = max(self.last_seq, update.sequence_id)
            self.updates += 1
            setting = update.setting
            if setting.source:
                self.view[setting.key] = (from_value(setting.value), setting.source)
            else:
                self.view.pop(setting.key, None)

    def report(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seq": self.last_seq,
            "digest": view_digest(self.view),
            "keys": len(self.view),
            "snapshots": self.snapshots,
            "updates": self.updates,
            "gaps": len(self.gaps),
            "backwards": len(self.backwards),
            "anomalies": (self.gaps + self.backwards)[:5],
            "streams": self.streams,
            "registrations": self.registrations,
            "ended": self.ended,
        }


class _Subscriber:
    def __init__(self, name: str, args: argparse.Namespace, credentials: grpc.ChannelCredentials, token: str):
        self.account = SubscriberAccount(name)
        self._args = args
        self._credentials = credentials
        self._token = token
        self._channel: grpc.aio.Channel | None = None
        self.session_id = ""
        self.ready = asyncio.Event()
        self.progress = asyncio.Event()

    async def run(self) -> None:
        self._channel = secure_channel(self._args.target, self._credentials)
        refresh = asyncio.create_task(self._refresh_loop())
        try:
            while True:
                await self._stream_once()
                await asyncio.sleep(_RECONNECT_DELAY)  # the reconnect backoff of a remote agent
        finally:
            refresh.cancel()
            await self._channel.close()

    async def _register(self) -> None:
        assert self._channel is not None
        stub = remoteagent_pb2_grpc.RemoteAgentStub(self._channel)
        request = remoteagent_pb2.RegisterRemoteAgentRequest(
            pid=str(os.getpid()), flavor=_FLAVOR, display_name=self.account.name
        )
        reply = await stub.RegisterRemoteAgent(request, metadata=auth_metadata(self._token), timeout=10)
        self.session_id = reply.session_id
        self.account.registrations += 1

    async def _stream_once(self) -> None:
        assert self._channel is not None
        try:
            if not self.session_id:
                await self._register()
            stub = api_pb2_grpc.AgentSecureStub(self._channel)
            metadata = (*auth_metadata(self._token), ("session_id", self.session_id))
            call = stub.StreamConfigEvents(
                configstream_pb2.ConfigStreamRequest(name=self.account.name), metadata=metadata
            )
            self.account.streams += 1
            async for event in call:
                self.account.apply(event)
                if self.account.snapshots:
                    self.ready.set()
                self.progress.set()
            self._ended("EOF")
        except grpc.aio.AioRpcError as exc:
            self._ended(exc.code().name)
            if exc.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                self.session_id = ""  # evicted: register again

    def _ended(self, how: str) -> None:
        self.account.ended[how] = self.account.ended.get(how, 0) + 1

    async def _refresh_loop(self) -> None:
        assert self._channel is not None
        stub = remoteagent_pb2_grpc.RemoteAgentStub(self._channel)
        while True:
            await asyncio.sleep(self._args.refresh)  # the refresh cadence of a remote agent
            if not self.session_id:
                continue
            request = remoteagent_pb2.RefreshRemoteAgentRequest(session_id=self.session_id)
            with contextlib.suppress(grpc.aio.AioRpcError):  # NOT_FOUND: the stream ends, then we register
                await stub.RefreshRemoteAgent(request, metadata=auth_metadata(self._token), timeout=10)


async def _wait_at(subscribers: Sequence[_Subscriber], seq: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    for sub in subscribers:
        while sub.account.last_seq < seq and (remaining := deadline - time.monotonic()) > 0:
            sub.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.progress.wait(), remaining)


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> None:
    material = load_client_material(args.token_file, args.cert_file)
    credentials = client_credentials(material.cert_pem, material.key_pem)
    subscribers = [
        _Subscriber(f"{args.name}-{i}", args, credentials, material.token) for i in range(args.count)
    ]
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    try:
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), args.ready_timeout)
        _say({"event": "ready"})
        while line := await commands.readline():
            command = json.loads(line)
            if command.get("cmd") == "report":
                await _wait_at(subscribers, int(command["seq"]), float(command.get("timeout", 60)))
                _say({"event": "report", "subscribers": [s.account.report() for s in subscribers]})
            elif command.get("cmd") == "exit":
                break
            else:
                _say({"event": "error", "message": f"unknown command {command.get('cmd')!r}"})
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> None:
    description = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m bench.soak_subscriber", description=description)
    parser.add_argument("--target", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--cert-file", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--name", default="soak")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between session refreshes")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except Exception as exc:  # report to the driver instead of a bare traceback
        _say({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
