"""Snapshot build, measured alone in a fresh process: convert and serialize ``N`` settings.

``python -m bench.snapshot_build --settings N --kind core|core-message|floor [--runs R]``

- ``core``: what the core agent's producer runs for a snapshot at a new sequence id: a
  :class:`pkg.config.model.LayeredConfig` holding the settings at source ``file``,
  ``flattened_with_sequence_id()``, :func:`pkg.protoconv.configevents.encode_snapshot` (through the
  message for small snapshots, encoded directly for large ones).
- ``core-message``: the same always through the message,
  :func:`pkg.protoconv.configevents.snapshot_event` and its serialization (the same bytes), for
  comparison.
- ``floor``: the floor server's snapshot (:class:`bench.floor_server.FloorState`): settings kept as
  ready ``ConfigSetting`` messages, copied into one message and serialized.

Prints one JSON line: ``build_ms`` (the fastest run, each at a new sequence id), ``payload_bytes`` and
``peak_extra_bytes``: the process's peak resident memory during one build above its resident memory
before it (the kernel's high-water mark, reset first through ``/proc/self/clear_refs``), so memory
that protobuf allocates outside Python's allocator counts too.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["bulk_settings", "main", "measure_build", "peak_extra_bytes", "peak_since", "reset_peak"]

CORE = "core"
CORE_MESSAGE = "core-message"
FLOOR = "floor"
_LIMIT_SLACK = 4096  # the snapshot's framing, as pkg.config.limits requires


def bulk_settings(count: int, value: str) -> dict[str, str]:
    """The flattened ``bench.bulk.*`` settings a benchmark config file holds (see bench.servers)."""
    return {f"bench.bulk.s{i:05d}": value.format(i=i) for i in range(count)}


def _status_kib(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _trim() -> None:
    """Give memory freed earlier back to the system, so that reusing it counts as growth."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> int | None:
    """Give freed memory back, reset the peak to the current resident memory and return it in bytes;
    None where the kernel's counters are not available."""
    _trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    except OSError:
        return None
    before = _status_kib("VmRSS")
    return None if before is None else before * 1024


def peak_since(before: int | None) -> int | None:
    """The peak resident memory since :func:`reset_peak` returned ``before``, above it."""
    peak = _status_kib("VmHWM")
    if before is None or peak is None:
        return None
    return max(peak * 1024 - before, 0)


def peak_extra_bytes(run: Callable[[], object]) -> int | None:
    """Peak resident memory while ``run()`` runs above the resident memory before it (memory freed
    before is given back first); None where the kernel's counters are not available."""
    before = reset_peak()
    result = run()
    extra = peak_since(before)
    del result
    return extra


def _core_builder(settings: Mapping[str, str], *, message: bool = False) -> Callable[[], bytes]:
    from pkg.config.limits import ConfigLimits
    from pkg.config.model import LayeredConfig
    from pkg.config.schema import default_schema
    from pkg.config.sources import Source
    from pkg.protoconv import configevents

    schema = default_schema()
    schema.declare_open_group("bench", "benchmark settings")
    size = 1 << 30
    limits = ConfigLimits(
        value_max_bytes=1 << 20, total_max_bytes=size, grpc_max_message_size=size + _LIMIT_SLACK
    )
    config = LayeredConfig(schema, limits=limits)
    config.set_many(settings, Source.FILE)
    bump = iter(range(1 << 62))

    def build() -> bytes:
        config.set("bench.latency", f"v{next(bump)}", Source.AGENT_RUNTIME)  # a new sequence id
        flattened, sequence_id = config.flattened_with_sequence_id()
        if message:
            return configevents.snapshot_event("datadog.yaml", sequence_id, flattened).SerializeToString()
        return configevents.encode_snapshot("datadog.yaml", sequence_id, flattened)

    return build


def _floor_builder(settings: Mapping[str, str]) -> Callable[[], bytes]:
    from bench.floor_server import FloorState

    state = FloorState(settings)

    def build() -> bytes:
        state.set_text({"bench.latency": f"v{state.sequence_id}"})  # a new sequence id
        return state.snapshot()

    return build


def measure_build(kind: str, settings: Mapping[str, str], runs: int) -> dict[str, Any]:
    """Build ``runs`` snapshots of ``settings`` the way ``kind`` does; the figures of :func:`main`."""
    message = kind == CORE_MESSAGE
    build = _floor_builder(settings) if kind == FLOOR else _core_builder(settings, message=message)
    build()  # warm: first-call costs are not the build's
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        payload = build()
        times.append(time.perf_counter() - started)
    return {
        "event": "built",
        "kind": kind,
        "settings": len(settings),
        "build_ms": min(times) * 1e3,
        "payload_bytes": len(payload),
        "peak_extra_bytes": peak_extra_bytes(build),
    }


def main(argv: Sequence[str] | None = None) -> None:
    description = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_build", description=description)
    parser.add_argument("--settings", type=int, required=True)
    parser.add_argument("--kind", choices=(CORE, CORE_MESSAGE, FLOOR), required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--value", default="v{i:05d}", help="text of setting i (str.format with i)")
    args = parser.parse_args(argv)
    result = measure_build(args.kind, bulk_settings(args.settings, args.value), max(args.runs, 1))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
