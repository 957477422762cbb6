"""Consumer apply: the consumer library's first snapshot, measured through its public API.

``python -m bench.consumer_probe --target HOST:PORT --token-file F --cert-file F [--runs R]``

Each run, in this process, against the same server and the same (cached) snapshot:

1. ``raw``: a bare client connects, registers, opens the stream and receives the snapshot's bytes
   (not parsed): what any client pays to get the snapshot.
2. ``consumer``: :func:`comp.core.configstreamconsumer.connect_config_stream` until it yields, i.e.
   the same steps plus parsing and applying the snapshot (``wait_ready``).

``apply_ms`` is the fastest consumer run minus the fastest raw run. ``peak_extra_bytes``: resident
memory at its peak during a consumer run above the memory before it (see
:func:`bench.snapshot_build.peak_extra_bytes`). Prints one JSON line; the settings count is the
consumer's view, so an incomplete snapshot shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.snapshot_build import peak_since, reset_peak
from bench.subscribers import CHANNEL_OPTIONS, STREAM_METHOD
from comp.core.configstreamconsumer import connect_config_stream
from pkg.ipc import auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc

__all__ = ["main", "raw_snapshot_seconds"]


async def raw_snapshot_seconds(target: str, token_file: Path, cert_file: Path) -> tuple[float, int]:
    """Seconds from nothing to the snapshot's bytes received, and their size."""
    material = load_client_material(token_file, cert_file)
    started = time.perf_counter()
    credentials = client_credentials(material.cert_pem, material.key_pem)
    async with secure_channel(target, credentials, CHANNEL_OPTIONS) as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        request = remoteagent_pb2.RegisterRemoteAgentRequest(
            pid=str(os.getpid()), flavor="bench-probe", display_name="bench-probe-raw"
        )
        metadata = auth_metadata(material.token)
        response = await stub.RegisterRemoteAgent(request, metadata=metadata, timeout=30)
        stream: Any = channel.unary_stream(STREAM_METHOD)
        call = stream(
            configstream_pb2.ConfigStreamRequest(name="bench-probe-raw").SerializeToString(),
            metadata=(*metadata, ("session_id", response.session_id)),
        )
        async for data in call:
            elapsed = time.perf_counter() - started
            call.cancel()
            return elapsed, len(data)
    raise RuntimeError(f"{target}: the stream ended before a snapshot")


async def _consumer_once(args: argparse.Namespace) -> tuple[float, int]:
    started = time.perf_counter()
    async with connect_config_stream(
        "bench-probe",
        address=args.target,
        auth_token_file=args.token_file,
        cert_file=args.cert_file,
        ready_timeout=args.timeout,
        environ={},
    ) as config:
        elapsed = time.perf_counter() - started
        return elapsed, len(config.reader().all_settings())


async def _probe(args: argparse.Namespace) -> dict[str, Any]:
    raw_runs, consumer_runs = [], []
    raw_bytes = settings = 0
    for _ in range(args.runs):
        seconds, raw_bytes = await raw_snapshot_seconds(args.target, args.token_file, args.cert_file)
        raw_runs.append(seconds)
        seconds, settings = await _consumer_once(args)
        consumer_runs.append(seconds)
    before = reset_peak()
    await _consumer_once(args)
    peak = peak_since(before)
    raw_ms, consumer_ms = min(raw_runs) * 1e3, min(consumer_runs) * 1e3
    return {
        "event": "probed",
        "raw_ms": raw_ms,
        "consumer_ms": consumer_ms,
        "apply_ms": max(consumer_ms - raw_ms, 0.0),
        "snapshot_bytes": raw_bytes,
        "settings": settings,
        "peak_extra_bytes": peak,
    }


def main(argv: Sequence[str] | None = None) -> None:
    description = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m bench.consumer_probe", description=description)
    parser.add_argument("--target", required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--cert-file", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_probe(args))
    except Exception as exc:  # report to the driver instead of a bare traceback
        sys.stdout.write(json.dumps({"event": "error", "message": f"{type(exc).__name__}: {exc}"}) + "\n")
        raise SystemExit(1) from exc
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
