"""Subscriber process: many config-stream subscribers in one asyncio process, each on its own channel.

``python -m bench.subscribers --target HOST:PORT --token-file F --cert-file F --count N``

Every subscriber has its own channel (its own TCP/TLS connection: local subchannel pool), registers
with the remote agent registry, then streams ``StreamConfigEvents`` with the session id and the
bearer token, exactly as a remote agent does. The process is driven by JSON lines on stdin and
answers JSON lines on stdout:

- (on start) connect and register everything -> ``{"event": "prepared", "seconds": s}``
- ``{"cmd": "stream", "timeout": t}``: open every stream at once, wait for every snapshot ->
  ``{"event": "streaming", "snapshot_ns": [per subscriber, from the start], "all_ns": n}``
- ``{"cmd": "wait_seq", "seq": S, "timeout": t}``: until every subscriber has seen sequence id S ->
  ``{"event": "reached", "ok": bool, "last_ns": monotonic time the last one got there}``
- ``{"cmd": "stats"}``: counters and latency samples since the last stats -> ``{"event": "stats", ...}``
- ``{"cmd": "exit"}``

Options ask for the stream extensions: ``--max-batch-updates M`` (updates may arrive as batches, each
update counted), ``--filter-key K`` / ``--filter-prefix P`` (only those keys; also asks for progress
events, which carry the position of a filtered stream), ``--progress``.

An update whose value is ``ts-<monotonic ns>`` (as the writer sends them) yields one latency sample:
receive time minus that timestamp (``time.monotonic_ns`` is one clock for every process of the host).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from pkg.ipc import auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc

__all__ = [
    "CHANNEL_OPTIONS",
    "TIMESTAMP_PREFIX",
    "Fleet",
    "SubscriberState",
    "main",
    "parse_arguments",
    "parse_timestamp",
    "stream_request",
]

STREAM_METHOD = "/datadog.api.v1.AgentSecure/StreamConfigEvents"
TIMESTAMP_PREFIX = "ts-"
# One connection per subscriber, as separate remote agents would have; big enough receive windows.
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]
_FLAVOR = "bench-subscriber"


def parse_timestamp(value: str) -> int | None:
    """The monotonic ns embedded in a ``ts-<ns>`` value, else None."""
    if not value.startswith(TIMESTAMP_PREFIX):
        return None
    digits = value[len(TIMESTAMP_PREFIX) :].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


@dataclass
class SubscriberState:
    """One subscriber: its channel, session, call and the last sequence id it saw."""

    index: int
    channel: grpc.aio.Channel
    session_id: str = ""
    last_seq: int = -1
    snapshot_ns: int = 0
    call: Any = None
    task: asyncio.Task[None] | None = None
    filtered: bool = False
    """Sees only some keys: sequence ids of its updates skip the others' (no gap)."""


@dataclass
class Fleet:
    """Counters shared by every subscriber of the process (one event loop: no locks)."""

    count: int
    clock: Callable[[], int] = time.monotonic_ns
    received: int = 0
    updates: int = 0
    batches: int = 0
    progress: int = 0
    snapshots: int = 0
    snapshot_bytes: int = 0
    gaps: int = 0
    out_of_order: int = 0
    latencies_us: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    snapshotted: int = 0
    all_snapshotted: asyncio.Event = field(default_factory=asyncio.Event)
    target_seq: int | None = None
    remaining: int = 0
    reached_ns: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, sub: SubscriberState, data: bytes) -> None:
        """Account for one serialized ``ConfigEvent`` received by ``sub``."""
        now = self.clock()
        event = configstream_pb2.ConfigEvent.FromString(data)
        self.received += 1
        before = sub.last_seq
        kind = event.WhichOneof("event")
        if kind == "update":
            seq = self._on_update(sub, event.update, now)
        elif kind == "batch":
            self.batches += 1
            seq = before
            for update in event.batch.updates:
                seq = max(seq, self._on_update(sub, update, now))
        elif kind == "progress":
            self.progress += 1
            seq = event.progress.sequence_id
        elif kind == "snapshot":
            seq = event.snapshot.sequence_id
            self.snapshots += 1
            self.snapshot_bytes = len(data)
            if sub.snapshot_ns == 0:
                sub.snapshot_ns = now
                self.snapshotted += 1
                if self.snapshotted == self.count:
                    self.all_snapshotted.set()
        else:
            return
        sub.last_seq = max(sub.last_seq, seq)
        target = self.target_seq
        if target is not None and before < target <= sub.last_seq:
            self.remaining -= 1
            if self.remaining == 0:
                self.reached_ns = now
                self.reached.set()

    def _on_update(self, sub: SubscriberState, update: configstream_pb2.ConfigUpdate, now: int) -> int:
        """Count one update (alone or in a batch); returns its sequence id."""
        seq = update.sequence_id
        self.updates += 1
        last = sub.last_seq
        if last >= 0 and seq != last + 1 and not sub.filtered:
            if seq > last + 1:
                self.gaps += 1
            else:
                self.out_of_order += 1
        sub.last_seq = max(last, seq)
        stamp = parse_timestamp(update.setting.value.string_value)
        if stamp is not None:
            self.latencies_us.append((now - stamp) // 1000)
        return seq

    def expect(self, seq: int, subscribers: Sequence[SubscriberState]) -> None:
        """Arm :attr:`reached` for the moment every subscriber has seen ``seq``."""
        self.target_seq = seq
        self.remaining = sum(1 for s in subscribers if s.last_seq < seq)
        self.reached = asyncio.Event()
        if self.remaining == 0:
            self.reached_ns = self.clock()
            self.reached.set()

    def on_failure(self, sub: SubscriberState, message: str) -> None:
        self.errors.append(f"subscriber {sub.index}: {message}")
        self.reached.set()
        self.all_snapshotted.set()

    def take_stats(self) -> dict[str, Any]:
        stats = {
            "event": "stats",
            "received": self.received,
            "updates": self.updates,
            "batches": self.batches,
            "progress": self.progress,
            "snapshots": self.snapshots,
            "snapshot_bytes": self.snapshot_bytes,
            "gaps": self.gaps,
            "out_of_order": self.out_of_order,
            "latencies_us": self.latencies_us,
            "errors": self.errors[:5],
        }
        self.received = self.updates = self.snapshots = self.gaps = self.out_of_order = 0
        self.batches = self.progress = 0
        self.latencies_us = []
        return stats


class _Process:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        material = load_client_material(args.token_file, args.cert_file)
        self.token = material.token
        self.credentials = client_credentials(material.cert_pem, material.key_pem)
        self.fleet = Fleet(args.count)
        self.subscribers: list[SubscriberState] = []

    async def _prepare_one(self, index: int, gate: asyncio.Semaphore) -> SubscriberState:
        async with gate:
            channel = secure_channel(self.args.target, self.credentials, CHANNEL_OPTIONS)
            await channel.channel_ready()
            stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
            request = remoteagent_pb2.RegisterRemoteAgentRequest(
                pid=str(os.getpid()), flavor=_FLAVOR, display_name=f"{self.args.name}-{index}"
            )
            response = await stub.RegisterRemoteAgent(request, metadata=auth_metadata(self.token), timeout=30)
            filtered = bool(self.args.filter_key or self.args.filter_prefix)
            return SubscriberState(index, channel, session_id=response.session_id, filtered=filtered)

    async def prepare(self) -> None:
        gate = asyncio.Semaphore(self.args.connect_concurrency)
        self.subscribers = list(
            await asyncio.gather(*(self._prepare_one(i, gate) for i in range(self.args.count)))
        )

    async def _consume(self, sub: SubscriberState) -> None:
        metadata = (*auth_metadata(self.token), ("session_id", sub.session_id))
        stream: Any = sub.channel.unary_stream(STREAM_METHOD)  # bytes in, bytes out
        sub.call = stream(stream_request(self.args, f"{self.args.name}-{sub.index}"), metadata=metadata)
        try:
            async for data in sub.call:
                self.fleet.on_event(sub, data)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.fleet.on_failure(sub, f"{exc.code().name}: {exc.details()}")
            return
        self.fleet.on_failure(sub, "the server ended the stream")

    async def stream(self, limit_s: float) -> dict[str, Any]:
        started = time.monotonic_ns()
        for sub in self.subscribers:
            sub.task = asyncio.create_task(self._consume(sub))
        await asyncio.wait_for(self.fleet.all_snapshotted.wait(), limit_s)
        if self.fleet.errors:
            raise RuntimeError("; ".join(self.fleet.errors[:3]))
        self.fleet.take_stats()  # the first snapshots are reported here, not in the next stats
        times = [s.snapshot_ns - started for s in self.subscribers]
        return {
            "event": "streaming",
            "snapshot_ns": times,
            "all_ns": max(times),
            "started_ns": started,
            "snapshot_bytes": self.fleet.snapshot_bytes,
        }

    async def wait_seq(self, seq: int, limit_s: float) -> dict[str, Any]:
        self.fleet.expect(seq, self.subscribers)
        try:
            await asyncio.wait_for(self.fleet.reached.wait(), limit_s)
        except TimeoutError:
            behind = sum(1 for s in self.subscribers if s.last_seq < seq)
            return {"event": "reached", "ok": False, "behind": behind, "errors": self.fleet.errors[:3]}
        ok = not self.fleet.errors
        return {
            "event": "reached",
            "ok": ok,
            "last_ns": self.fleet.reached_ns,
            "errors": self.fleet.errors[:3],
        }

    async def close(self) -> None:
        for sub in self.subscribers:
            if sub.call is not None:
                sub.call.cancel()
        await asyncio.gather(*(s.channel.close() for s in self.subscribers), return_exceptions=True)


def stream_request(args: argparse.Namespace, name: str) -> bytes:
    """The serialized ``ConfigStreamRequest`` of one subscriber, with the extensions ``args`` ask for."""
    request = configstream_pb2.ConfigStreamRequest(name=name)
    if args.max_batch_updates:
        request.max_batch_updates = args.max_batch_updates
    if args.filter_key or args.filter_prefix:
        request.filter.keys.extend(args.filter_key)
        request.filter.prefixes.extend(args.filter_prefix)
        request.progress = True  # a filtered stream learns its position from progress events
    if args.progress:
        request.progress = True
    return request.SerializeToString()


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> None:
    process = _Process(args)
    commands = await _stdin_lines()
    try:
        started = time.monotonic()
        await process.prepare()
        _say({"event": "prepared", "seconds": time.monotonic() - started})
        while line := await commands.readline():
            command = json.loads(line)
            name = command.get("cmd")
            if name == "stream":
                _say(await process.stream(float(command.get("timeout", 60))))
            elif name == "wait_seq":
                _say(await process.wait_seq(int(command["seq"]), float(command.get("timeout", 60))))
            elif name == "stats":
                _say(process.fleet.take_stats())
            elif name == "exit":
                break
            else:
                _say({"event": "error", "message": f"unknown command {name!r}"})
    finally:
        await process.close()


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.subscribers", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--cert-file", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--name", default="bench")
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--max-batch-updates", type=int, default=0, help="ask for batches of M updates")
    parser.add_argument("--filter-key", action="append", default=[], help="only this key (repeatable)")
    parser.add_argument("--filter-prefix", action="append", default=[], help="only keys under P (repeatable)")
    parser.add_argument("--progress", action="store_true", help="ask for progress events")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    try:
        asyncio.run(_serve(args))
    except Exception as exc:  # report to the driver instead of a bare traceback
        _say({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
