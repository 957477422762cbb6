"""Writer process: changes settings through the runtime settings API (``Settings/SetSettings``).

``python -m bench.writer --target HOST:PORT --token-file F --cert-file F``

The real write path of the core agent, driven the same way against the floor server. Commands are
JSON lines on stdin, answers JSON lines on stdout (``{"event": "ready"}`` once connected):

- ``{"cmd": "rate", "key": K, "rate": R, "count": M}``: M sets of K at R per second
- ``{"cmd": "flood", "key": K, "seconds": D, "max_count": M}``: sets of K one after the other, as fast
  as the server answers, for D seconds (at most M)
- ``{"cmd": "mix", "prefix": P, "keys": C, "seconds": D, "per_call": K}``: like flood, each call
  setting the next K (default 1) of the C keys ``P0000``, ``P0001``, ... in turn (every key changes
  as often)
- ``{"cmd": "burst", "prefix": P, "count": C}``: one call that sets C keys ``P0000``, ``P0001``, ...
- ``{"cmd": "set", "values": {...}}``: one call with these values
- ``{"cmd": "exit"}``

Each value is ``ts-<time.monotonic_ns()>`` taken just before its call (burst: ``ts-<ns>-<i>``), so a
subscriber can compute the set-to-receive latency. Answers carry the last sequence id returned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bench.subscribers import TIMESTAMP_PREFIX
from pkg.ipc import auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc

__all__ = ["burst_keys", "main"]


def burst_keys(prefix: str, count: int) -> list[str]:
    """The keys a burst of ``count`` sets: ``prefix0000`` ..."""
    return [f"{prefix}{i:04d}" for i in range(count)]


class _Writer:
    def __init__(self, stub: settings_pb2_grpc.SettingsAsyncStub, token: str) -> None:
        self._stub = stub
        self._metadata = auth_metadata(token)
        self.last_seq = 0

    async def set(self, values: Mapping[str, str]) -> int:
        response = await self._stub.SetSettings(
            settings_pb2.SetSettingsRequest(values=values), metadata=self._metadata, timeout=60
        )
        self.last_seq = response.sequence_id
        return self.last_seq

    async def rate(self, key: str, rate: float, count: int) -> dict[str, Any]:
        interval_ns = int(1e9 / rate)
        started = time.monotonic_ns()
        late = 0
        for i in range(count):
            due = started + i * interval_ns
            wait_ns = due - time.monotonic_ns()
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / 1e9)
            elif wait_ns < -interval_ns:
                late += 1
            await self.set({key: f"{TIMESTAMP_PREFIX}{time.monotonic_ns()}"})
        return self.done(started, count, late=late)

    async def flood(self, key: str, seconds: float, max_count: int) -> dict[str, Any]:
        started = time.monotonic_ns()
        end = started + int(seconds * 1e9)
        sent = 0
        while sent < max_count and time.monotonic_ns() < end:
            await self.set({key: f"{TIMESTAMP_PREFIX}{time.monotonic_ns()}"})
            sent += 1
        return self.done(started, sent)

    async def mix(self, prefix: str, keys: int, seconds: float, per_call: int = 1) -> dict[str, Any]:
        names = burst_keys(prefix, keys)
        started = time.monotonic_ns()
        end = started + int(seconds * 1e9)
        sent = 0
        while time.monotonic_ns() < end:
            stamp = f"{TIMESTAMP_PREFIX}{time.monotonic_ns()}"
            await self.set({names[(sent * per_call + i) % keys]: stamp for i in range(per_call)})
            sent += 1
        return self.done(started, sent)

    async def burst(self, prefix: str, count: int) -> dict[str, Any]:
        started = time.monotonic_ns()
        values = {k: f"{TIMESTAMP_PREFIX}{started}-{i}" for i, k in enumerate(burst_keys(prefix, count))}
        await self.set(values)
        return self.done(started, 1)

    def done(self, started: int, sent: int, **extra: Any) -> dict[str, Any]:
        return {
            "event": "done",
            "sent": sent,
            "final_seq": self.last_seq,
            "started_ns": started,
            "ended_ns": time.monotonic_ns(),
            **extra,
        }


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> None:
    material = load_client_material(args.token_file, args.cert_file)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    async with secure_channel(
        args.target, client_credentials(material.cert_pem, material.key_pem)
    ) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        writer = _Writer(settings_pb2_grpc.SettingsStub(channel), material.token)
        _say({"event": "ready"})
        while line := await commands.readline():
            command = json.loads(line)
            name = command.get("cmd")
            if name == "rate":
                _say(await writer.rate(command["key"], float(command["rate"]), int(command["count"])))
            elif name == "flood":
                result = await writer.flood(
                    command["key"], float(command["seconds"]), int(command.get("max_count", 1 << 30))
                )
                _say(result)
            elif name == "mix":
                per_call = int(command.get("per_call", 1))
                _say(
                    await writer.mix(
                        command["prefix"], int(command["keys"]), float(command["seconds"]), per_call
                    )
                )
            elif name == "burst":
                _say(await writer.burst(command["prefix"], int(command["count"])))
            elif name == "set":
                started = time.monotonic_ns()
                await writer.set({str(k): str(v) for k, v in command["values"].items()})
                _say(writer.done(started, 1))
            elif name == "exit":
                break
            else:
                _say({"event": "error", "message": f"unknown command {name!r}"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--cert-file", required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except Exception as exc:
        _say({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
