"""Cases around a server's state and process: 4 snapshot, 5 memory, 6 CLI and startup."""

from __future__ import annotations

import asyncio
import sys
import time

from bench.context import LATENCY_KEY, Bench
from bench.procs import Child, rss_bytes, run_timed
from bench.report import Target
from bench.servers import CORE, Server, core_agent_command, metric_value, read_metrics

__all__ = ["SNAPSHOT_BUILDS_METRIC", "run_cli", "run_memory", "run_snapshot"]

SNAPSHOT_BUILDS_METRIC = r"^configstream_.*snapshot.*(build|serializ)"
"""The core's counter of snapshot serializations, as exported on ``/metrics``."""

_SETTLE_SECONDS = 1.0


async def _snapshot_builds(server: Server) -> tuple[str, float] | None:
    if server.metrics_port is None:
        return None
    return metric_value(await read_metrics(server.metrics_port), SNAPSHOT_BUILDS_METRIC)


async def _bump(writer: Child) -> None:
    """A new sequence id, so that the next snapshot cannot come from a cache."""
    await writer.request({"cmd": "set", "values": {LATENCY_KEY: f"ts-{time.monotonic_ns()}"}}, 60)


async def _snapshot_run(bench: Bench, server: Server, writer: Child) -> None:
    plan = bench.plan
    kind = server.kind
    await _bump(writer)
    subscribers, first = await bench.streaming(server, 1)
    await bench.finish(subscribers)
    fig = bench.report.figure("4 snapshot", f"first snapshot ({plan.snapshot_settings} settings)", "ms")
    getattr(fig, kind).append(first["all_ns"] / 1e6)

    await _bump(writer)
    storm_subscribers = await bench.subscribers(server, plan.storm_subscribers)
    before = await _snapshot_builds(server)
    command = {"cmd": "stream", "timeout": plan.step_timeout}
    storm = await storm_subscribers.request(command, plan.step_timeout + 5)
    after = await _snapshot_builds(server)
    await bench.finish(storm_subscribers)
    name = f"storm: all {plan.storm_subscribers} have it"
    getattr(bench.report.figure("4 snapshot", name, "ms"), kind).append(storm["all_ns"] / 1e6)
    if kind == CORE:
        builds = bench.report.figure("4 snapshot", "serializations in the storm (one seq id)", "count")
        if before is not None and after is not None:
            builds.core.append(after[1] - before[1])
            builds.note = f"from {after[0]}"
        elif not any(SNAPSHOT_BUILDS_METRIC in n for n in bench.report.notes):
            bench.report.notes.append(f"no /metrics counter matching {SNAPSHOT_BUILDS_METRIC!r}")


async def run_snapshot(bench: Bench) -> None:
    """Time to the first snapshot of a large config, alone and in a storm; serializations counted."""
    plan = bench.plan
    async with bench.servers(bulk_settings=plan.snapshot_settings) as servers:
        writers = {kind: await bench.writer(server) for kind, server in servers.items()}
        try:
            for run in range(plan.runs):
                for kind, server in servers.items():
                    bench.say(f"snapshot: run {run + 1}/{plan.runs} {kind}")
                    await _snapshot_run(bench, server, writers[kind])
        finally:
            for writer in writers.values():
                await bench.finish(writer)
    storm = f"storm: all {plan.storm_subscribers} have it"
    bench.report.targets.append(Target("snapshot storm <= 2 s", ("4 snapshot", storm), 2000.0, "core"))
    bench.report.targets.append(
        Target(
            "snapshot serialized once per seq id",
            ("4 snapshot", "serializations in the storm (one seq id)"),
            1.0,
            "core",
        )
    )


async def _memory_run(bench: Bench, kind: str) -> float:
    plan = bench.plan
    server = await bench.start(kind)
    try:
        writer = await bench.writer(server)
        await bench.warm_up(server, writer)
        await bench.finish(writer)
        await asyncio.sleep(_SETTLE_SECONDS)
        before = rss_bytes(server.pid)
        subscribers, _ = await bench.streaming(server, plan.idle_subscribers)
        await asyncio.sleep(_SETTLE_SECONDS)
        after = rss_bytes(server.pid)
        await bench.finish(subscribers)
    finally:
        await bench.group.stop(server.child)
    return (after - before) / plan.idle_subscribers / 1024


async def run_memory(bench: Bench) -> None:
    """Server RSS growth per idle subscriber, each run on a fresh server."""
    plan = bench.plan
    name = f"RSS per idle subscriber (N={plan.idle_subscribers})"
    for run in range(plan.runs):
        for kind in bench.kinds:
            bench.say(f"memory: run {run + 1}/{plan.runs} {kind}")
            getattr(bench.report.figure("5 memory", name, "KiB"), kind).append(await _memory_run(bench, kind))
    bench.report.targets.append(Target("<= 64 KiB per idle subscriber", ("5 memory", name), 64.0, "core"))


async def run_cli(bench: Bench) -> None:
    """``core-agent config get`` and ``core-agent run`` until SERVING, beside ``python -c "import grpc"``."""
    plan = bench.plan
    timeout = plan.step_timeout
    label = "import grpc"
    import_grpc = [sys.executable, "-c", "import grpc"]
    get = bench.report.figure("6 cli", "config get log_level", "ms", floor_label=label)
    start = bench.report.figure("6 cli", "run until SERVING", "ms", floor_label=label)
    core = None
    if CORE in bench.kinds:
        core = await bench.start(CORE)
    try:
        for run in range(plan.cli_runs):
            bench.say(f"cli: run {run + 1}/{plan.cli_runs}")
            grpc_seconds = await run_timed(import_grpc, timeout)
            get.floor.append(grpc_seconds * 1e3)
            start.floor.append(grpc_seconds * 1e3)
            if core is None:
                continue
            command = [*core_agent_command(), "config", "get", "log_level", "-c", str(core.config_file)]
            get.core.append(await run_timed(command, timeout) * 1e3)
            fresh = await bench.start(CORE)
            start.core.append(fresh.ready_seconds * 1e3)
            await bench.group.stop(fresh.child)
    finally:
        if core is not None:
            await bench.group.stop(core.child)
    bench.report.targets.append(Target("config get <= 2.5x import grpc", ("6 cli", get.name), 2.5, "ratio"))
    bench.report.targets.append(Target("serving <= 1.5 s after start", ("6 cli", start.name), 1500.0, "core"))
