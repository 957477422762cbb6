"""Cases of the write path and of scale: 7 write path, 8 snapshots at scale, 9 batches, 10 filters.

- 7: server CPU per update at N=1 while the writer sets one key as fast as the server answers: the
  runtime settings call, validation, the model, the change event and its one delivery.
- 8: for each size, snapshot build (in a fresh process, :mod:`bench.snapshot_build`), time to the
  first snapshot at a new sequence id (build and send) and with it cached (send), the consumer
  library's apply (:mod:`bench.consumer_probe`) and peak memories.
- 9: subscribers that ask for batches of ``batch_updates`` while the writer sets
  ``batch_keys_per_set`` keys per call as fast as the server answers: server CPU per delivered
  update, against the floor's one message per update. (A writer setting one key per call never
  queues a second update before the first is written: nothing to batch.)
- 10: subscribers filtered to 1% of the keys that the writer changes in turn: the core's CPU per
  update beside the same number of unfiltered subscribers, in all and beyond the write path (the
  CPU per update with no subscriber), and the filtered snapshot's bytes beside the full one's (the
  floor does not filter: both columns are the core's).
"""

from __future__ import annotations

from typing import Any

from bench.cases_stream import cost_run
from bench.context import LATENCY_KEY, MIX_PREFIX, Bench
from bench.procs import Child, cpu_seconds
from bench.report import Target
from bench.servers import CORE, Server
from bench.writer import burst_keys

__all__ = [
    "SCALE_TOTAL_MAX_BYTES",
    "SCALE_VALUE",
    "filter_arguments",
    "run_batch",
    "run_filter",
    "run_snapshot_scale",
    "run_write",
]

SCALE_VALUE = "v{i:05d}"
"""Bulk values short enough that 100,000 settings (~3.7 MB) fit the 4 MiB message a client accepts."""
SCALE_TOTAL_MAX_BYTES = 4 * 1024 * 1024 - 4096
"""``config_limits.total_max_bytes`` for those configs: the most a 4 MiB message can carry."""
_MIB = 1024 * 1024


async def run_write(bench: Bench) -> None:
    """Server CPU per update at N=1 (write path plus one delivery), beside the floor."""
    plan = bench.plan
    command = {"cmd": "flood", "key": LATENCY_KEY, "seconds": plan.write_seconds}
    async with bench.servers() as servers:
        writers = {kind: await bench.writer(server) for kind, server in servers.items()}
        try:
            for kind, server in servers.items():
                await bench.warm_up(server, writers[kind])
            for run in range(plan.runs):
                for kind, server in servers.items():
                    bench.say(f"write path: run {run + 1}/{plan.runs} {kind}")
                    result = await cost_run(bench, server, writers[kind], 1, command=command)
                    fig = bench.report.figure("7 write path", "cpu per update N=1", "us")
                    getattr(fig, kind).append(result["cpu_us_per_update"])
                    rate = bench.report.figure("7 write path", "writes N=1", "sets/s")
                    getattr(rate, kind).append(result["writes_per_s"])
        finally:
            for writer in writers.values():
                await bench.finish(writer)
    bench.report.targets.append(
        Target(
            "write path cpu per update N=1 <= 1.3x floor",
            ("7 write path", "cpu per update N=1"),
            1.3,
            "ratio",
        )
    )


async def _build_figures(bench: Bench, size: int) -> None:
    """Build time and peak memory of each way to build a snapshot of ``size`` settings."""
    case = "8 snapshot at scale"
    args = ["--settings", str(size), "--value", SCALE_VALUE, "--runs", str(max(bench.plan.runs, 3))]
    results: dict[str, dict[str, Any]] = {}
    for kind in ("core", "core-message", "floor"):
        child = await bench.group.spawn_python(
            f"build-{kind}-{size}", "bench.snapshot_build", [*args, "--kind", kind]
        )
        try:
            results[kind] = await child.receive(bench.plan.step_timeout)
        finally:
            await bench.group.stop(child)
    build = bench.report.figure(case, f"build {size}", "ms")
    build.core.append(results["core"]["build_ms"])
    build.floor.append(results["floor"]["build_ms"])
    message = bench.report.figure(case, f"build {size} (through the message)", "ms")
    message.core.append(results["core-message"]["build_ms"])
    message.floor.append(results["floor"]["build_ms"])
    for kind, label in (("core", ""), ("core-message", " (through the message)")):
        memory = bench.report.figure(case, f"build peak extra memory {size}{label}", "x payload")
        memory.core.append(_times_payload(results[kind]))
        memory.floor.append(_times_payload(results["floor"]))
    payload = bench.report.figure(case, f"snapshot bytes {size}", "bytes")
    payload.core.append(float(results["core"]["payload_bytes"]))
    payload.floor.append(float(results["floor"]["payload_bytes"]))


def _times_payload(result: dict[str, Any]) -> float:
    peak = result.get("peak_extra_bytes")
    return float("nan") if peak is None else float(peak) / max(int(result["payload_bytes"]), 1)


async def _bump(writer: Child) -> None:
    await writer.request({"cmd": "set", "values": {LATENCY_KEY: "x"}}, 60)
    await writer.request({"cmd": "set", "values": {LATENCY_KEY: "y"}}, 60)


async def _probe(bench: Bench, server: Server) -> dict[str, Any]:
    args = [
        "--target",
        server.address,
        *bench.secrets.args(),
        "--runs",
        "2",
        "--timeout",
        str(bench.plan.step_timeout),
    ]
    child = await bench.group.spawn_python(f"consumer-probe-{server.kind}", "bench.consumer_probe", args)
    try:
        return await child.receive(bench.plan.step_timeout * 3)
    finally:
        await bench.group.stop(child)


async def _scale_run(bench: Bench, size: int, servers: dict[str, Server], writers: dict[str, Child]) -> None:
    case = "8 snapshot at scale"
    for kind, server in servers.items():
        await _bump(writers[kind])
        first, answer = await bench.streaming(server, 1)  # a new sequence id: built, then sent
        await bench.finish(first)
        cached, again = await bench.streaming(server, 1)  # the same sequence id: sent only
        await bench.finish(cached)
        getattr(bench.report.figure(case, f"first snapshot {size}", "ms"), kind).append(
            answer["all_ns"] / 1e6
        )
        getattr(bench.report.figure(case, f"send {size} (cached)", "ms"), kind).append(again["all_ns"] / 1e6)
        if kind != CORE:
            continue
        probe = await _probe(bench, server)
        if probe["settings"] < size:
            bench.report.notes.append(
                f"consumer saw {probe['settings']} settings of a {size}-setting snapshot"
            )
        apply = bench.report.figure(case, f"consumer apply {size}", "ms", floor_label="raw receive")
        apply.core.append(probe["apply_ms"])
        apply.floor.append(probe["raw_ms"])
        apply.note = "consumer: connect_config_stream until ready, minus a raw client's time to the bytes"
        peak = probe.get("peak_extra_bytes")
        memory = bench.report.figure(case, f"consumer peak extra memory {size}", "MiB")
        memory.core.append(float("nan") if peak is None else peak / _MIB)


async def run_snapshot_scale(bench: Bench) -> None:
    """Snapshots of ``scale_settings`` settings: build, first, cached send, consumer apply, memory."""
    plan = bench.plan
    options: dict[str, Any] = {"bulk_value": SCALE_VALUE, "total_max_bytes": SCALE_TOTAL_MAX_BYTES}
    for size in plan.scale_settings:
        bench.say(f"snapshot at scale: build {size}")
        await _build_figures(bench, size)
        async with bench.servers(bulk_settings=size, **options) as servers:
            writers = {kind: await bench.writer(server) for kind, server in servers.items()}
            try:
                for run in range(plan.runs):
                    bench.say(f"snapshot at scale: {size} settings run {run + 1}/{plan.runs}")
                    await _scale_run(bench, size, servers, writers)
            finally:
                for writer in writers.values():
                    await bench.finish(writer)
    sizes = plan.scale_settings
    case = "8 snapshot at scale"
    largest, smallest = max(sizes), min(sizes)
    for target in (
        Target(f"build {largest} <= 500 ms", (case, f"build {largest}"), 500.0, "core"),
        Target(
            f"build {largest} peak extra memory <= 3x payload",
            (case, f"build peak extra memory {largest}"),
            3.0,
            "core",
        ),
        Target(f"consumer apply {largest} <= 1 s", (case, f"consumer apply {largest}"), 1000.0, "core"),
        Target(
            f"first snapshot {smallest} <= 1.3x floor", (case, f"first snapshot {smallest}"), 1.3, "ratio"
        ),
    ):
        bench.report.targets.append(target)


async def run_batch(bench: Bench) -> None:
    """CPU per delivered update for subscribers asking for batches, beside the floor's one message per
    update (the floor ignores the request's extensions)."""
    plan = bench.plan
    extra = ["--max-batch-updates", str(plan.batch_updates)]
    per_set = plan.batch_keys_per_set
    command = {
        "cmd": "mix",
        "prefix": MIX_PREFIX,
        "keys": per_set,
        "per_call": per_set,
        "seconds": plan.batch_seconds,
    }
    async with bench.servers() as servers:
        writers = {kind: await bench.writer(server) for kind, server in servers.items()}
        try:
            for kind, server in servers.items():
                await bench.warm_up(server, writers[kind])
            for count in plan.batch_subscribers:
                for run in range(plan.runs):
                    for kind, server in servers.items():
                        bench.say(f"batch: N={count} run {run + 1}/{plan.runs} {kind}")
                        result = await cost_run(
                            bench,
                            server,
                            writers[kind],
                            count,
                            extra=extra if kind == CORE else (),
                            command=command,
                        )
                        name = f"cpu per delivered update N={count} ({per_set} keys per set)"
                        getattr(bench.report.figure("9 batch", name, "us"), kind).append(
                            result["cpu_us_per_update"]
                        )
                        per = bench.report.figure("9 batch", f"updates per message N={count}", "updates")
                        getattr(per, kind).append(result["updates_per_event"])
        finally:
            for writer in writers.values():
                await bench.finish(writer)
    for count, limit in ((10, 0.6), (100, 0.35)):
        if count in plan.batch_subscribers:
            name = f"cpu per delivered update N={count} ({per_set} keys per set)"
            bench.report.targets.append(
                Target(f"batches: {name} <= {limit}x floor", ("9 batch", name), limit, "ratio")
            )


async def _write_only_cpu_per_write(server: Server, writer: Child, command: dict[str, Any]) -> float:
    """The server's CPU per write for ``command`` with no subscriber: the write path alone."""
    before = cpu_seconds(server.pid)
    done = await writer.request(command, 60 + float(command.get("seconds", 0)))
    return (cpu_seconds(server.pid) - before) * 1e6 / max(int(done["sent"]), 1)


def filter_arguments(keys: list[str], share: float = 0.01) -> list[str]:
    """Subscriber options that filter to ``share`` of ``keys`` (at least one key)."""
    chosen = keys[: max(int(len(keys) * share), 1)]
    return [arg for key in chosen for arg in ("--filter-key", key)]


async def run_filter(bench: Bench) -> None:
    """The core's CPU per update and snapshot bytes for subscribers filtered to 1% of the keys the
    writer changes, beside unfiltered subscribers under the same mix."""
    plan = bench.plan
    if CORE not in bench.kinds:
        return
    keys = burst_keys(MIX_PREFIX, plan.filter_keys)
    filtered = filter_arguments(keys)
    command = {"cmd": "mix", "prefix": MIX_PREFIX, "keys": plan.filter_keys, "seconds": plan.filter_seconds}
    count = plan.filter_subscribers
    server = await bench.start(CORE)
    try:
        writer = await bench.writer(server)
        try:
            await bench.warm_up(server, writer)
            cpu = bench.report.figure(
                "10 filter", f"core cpu per update N={count}, filtered to 1%", "us", floor_label="unfiltered"
            )
            size = bench.report.figure(
                "10 filter", "snapshot bytes, filtered to 1%", "bytes", floor_label="full"
            )
            streaming = bench.report.figure(
                "10 filter",
                f"core cpu per update for N={count} subscribers, filtered to 1%",
                "us",
                floor_label="unfiltered",
            )
            streaming.note = "CPU per update with the subscribers, less without any (the write path)"
            for run in range(plan.runs):
                bench.say(f"filter: N={count} run {run + 1}/{plan.runs} no subscriber")
                alone = await _write_only_cpu_per_write(server, writer, command)
                for label, extra in (("unfiltered", []), ("filtered", filtered)):
                    bench.say(f"filter: N={count} run {run + 1}/{plan.runs} {label}")
                    # The same values at the start of each run: the snapshots compare like for like.
                    await writer.request({"cmd": "set", "values": dict.fromkeys(keys, "start")}, 60)
                    result = await cost_run(bench, server, writer, count, extra=extra, command=command)
                    column = cpu.core if extra else cpu.floor
                    column.append(result["cpu_us_per_write"])
                    (streaming.core if extra else streaming.floor).append(
                        max(result["cpu_us_per_write"] - alone, 0.0)
                    )
                    (size.core if extra else size.floor).append(result["snapshot_bytes"])
        finally:
            await bench.finish(writer)
    finally:
        await bench.group.stop(server.child)
    name = f"core cpu per update for N={count} subscribers, filtered to 1%"
    bench.report.targets.append(
        Target("filtered subscribers cost <= 0.05x unfiltered", ("10 filter", name), 0.05, "ratio")
    )
    bench.report.targets.append(
        Target(
            "filtered snapshot <= 0.02x the full one",
            ("10 filter", "snapshot bytes, filtered to 1%"),
            0.02,
            "ratio",
        )
    )
