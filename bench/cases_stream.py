"""Cases on a running server: 1 latency, 2 cost, 3 burst.

Each run uses a fresh subscriber process (N streams, one channel each) and the server's writer
process; the core agent and the floor take turns within a run, so drift affects both alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.context import BURST_PREFIX, LATENCY_KEY, Bench
from bench.procs import Child, cpu_seconds
from bench.report import Target, percentile
from bench.servers import Server

__all__ = ["cost_run", "run_burst", "run_cost", "run_latency", "stream_cases"]

_MS_PER_US = 1e-3


async def _latency_run(bench: Bench, server: Server, writer: Child, count: int) -> dict[str, Any]:
    plan = bench.plan
    subscribers, _ = await bench.streaming(server, count)
    try:
        updates = max(int(plan.latency_rate * plan.latency_seconds), 1)
        command = {"cmd": "rate", "key": LATENCY_KEY, "rate": plan.latency_rate, "count": updates}
        done = await writer.request(command, plan.step_timeout + plan.latency_seconds)
        await bench.wait_seq(subscribers, int(done["final_seq"]))
        stats = await subscribers.request({"cmd": "stats"}, 60)
    finally:
        await bench.finish(subscribers)
    samples = stats["latencies_us"]
    expected = updates * count
    return {"samples": samples, "expected": expected, "stats": stats, "late": done.get("late", 0)}


async def run_latency(bench: Bench, servers: dict[str, Server], writers: dict[str, Child]) -> None:
    """Set-to-receive latency at ``latency_rate`` updates/s for each N (p50, p99, max)."""
    plan = bench.plan
    for count in plan.latency_subscribers:
        for run in range(plan.runs):
            for kind, server in servers.items():
                bench.say(f"latency: N={count} run {run + 1}/{plan.runs} {kind}")
                result = await _latency_run(bench, server, writers[kind], count)
                samples = result["samples"]
                for name, value in (
                    ("p50", percentile(samples, 0.50)),
                    ("p99", percentile(samples, 0.99)),
                    ("max", max(samples) if samples else float("nan")),
                ):
                    fig = bench.report.figure("1 latency", f"{name} N={count}", "ms")
                    getattr(fig, kind).append(value * _MS_PER_US)
                received = bench.report.figure("1 latency", f"samples/expected N={count}", "ratio")
                getattr(received, kind).append(len(samples) / result["expected"])
                stats = result["stats"]
                if stats["gaps"] or stats["out_of_order"] or stats["snapshots"]:
                    bench.report.notes.append(
                        f"latency N={count} {kind}: {stats['gaps']} gaps, "
                        f"{stats['out_of_order']} out of order, {stats['snapshots']} resync snapshots"
                    )
        bench.report.targets.append(
            Target(f"latency p99 N={count} <= 1.3x floor", ("1 latency", f"p99 N={count}"), 1.3, "ratio")
        )


async def cost_run(
    bench: Bench,
    server: Server,
    writer: Child,
    count: int,
    *,
    extra: Sequence[str] = (),
    command: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Server CPU while the writer floods (``command``, default: sets of one key for ``cost_seconds``)
    and ``count`` subscribers (asking for the extensions in ``extra``) receive every update."""
    plan = bench.plan
    subscribers, first = await bench.streaming(server, count, extra)
    if command is None:
        command = {"cmd": "flood", "key": LATENCY_KEY, "seconds": plan.cost_seconds}
    try:
        cpu_before = cpu_seconds(server.pid)
        done = await writer.request(command, plan.step_timeout + float(command.get("seconds", 0)))
        reached = await bench.wait_seq(subscribers, int(done["final_seq"]))
        cpu_after = cpu_seconds(server.pid)
        stats = await subscribers.request({"cmd": "stats"}, 60)
    finally:
        await bench.finish(subscribers)
    delivered = int(stats["received"])
    cpu_us = (cpu_after - cpu_before) * 1e6
    seconds = (int(reached["last_ns"]) - int(done["started_ns"])) / 1e9
    write_seconds = (int(done["ended_ns"]) - int(done["started_ns"])) / 1e9
    return {
        "cpu_us_per_event": cpu_us / max(delivered, 1),
        "cpu_us_per_update": cpu_us / max(int(stats["updates"]), 1),
        "cpu_us_per_write": cpu_us / max(int(done["sent"]), 1),
        "updates_per_event": int(stats["updates"]) / max(delivered, 1),
        "events_per_s": delivered / seconds if seconds > 0 else float("nan"),
        "writes_per_s": int(done["sent"]) / write_seconds if write_seconds > 0 else float("nan"),
        "resync_snapshots": float(stats["snapshots"]),
        "batches": float(stats["batches"]),
        "snapshot_bytes": float(first.get("snapshot_bytes", 0)),
    }


async def run_cost(bench: Bench, servers: dict[str, Server], writers: dict[str, Child]) -> None:
    """Server CPU per delivered event with the writer going as fast as the server answers."""
    plan = bench.plan
    for count in plan.cost_subscribers:
        for run in range(plan.runs):
            for kind, server in servers.items():
                bench.say(f"cost: N={count} run {run + 1}/{plan.runs} {kind}")
                result = await cost_run(bench, server, writers[kind], count)
                for name, unit, key in (
                    (f"cpu per event N={count}", "us", "cpu_us_per_event"),
                    (f"delivered N={count}", "events/s", "events_per_s"),
                    (f"writes N={count}", "sets/s", "writes_per_s"),
                ):
                    getattr(bench.report.figure("2 cost", name, unit), kind).append(result[key])
                if result["resync_snapshots"]:
                    bench.report.notes.append(
                        f"cost N={count} {kind}: {result['resync_snapshots']:.0f} resync snapshots"
                    )
        bench.report.targets.append(
            Target(
                f"cpu per event N={count} <= 1.3x floor", ("2 cost", f"cpu per event N={count}"), 1.3, "ratio"
            )
        )


async def _burst_run(bench: Bench, server: Server, writer: Child) -> float:
    plan = bench.plan
    subscribers, _ = await bench.streaming(server, plan.burst_subscribers)
    try:
        command = {"cmd": "burst", "prefix": BURST_PREFIX, "count": plan.burst_keys}
        done = await writer.request(command, plan.step_timeout)
        reached = await bench.wait_seq(subscribers, int(done["final_seq"]))
    finally:
        await bench.finish(subscribers)
    return (int(reached["last_ns"]) - int(done["started_ns"])) / 1e6


async def run_burst(bench: Bench, servers: dict[str, Server], writers: dict[str, Child]) -> None:
    """One SetSettings call changing ``burst_keys`` keys: until every subscriber has them all."""
    plan = bench.plan
    name = f"{plan.burst_keys} keys N={plan.burst_subscribers}"
    for run in range(plan.runs):
        for kind, server in servers.items():
            bench.say(f"burst: run {run + 1}/{plan.runs} {kind}")
            ms = await _burst_run(bench, server, writers[kind])
            getattr(bench.report.figure("3 burst", name, "ms"), kind).append(ms)
    bench.report.targets.append(Target("burst <= 1.5x floor", ("3 burst", name), 1.5, "ratio"))


async def stream_cases(bench: Bench) -> None:
    """Cases 1-3 on one core agent and one floor, each with its own writer process."""
    async with bench.servers() as servers:
        writers = {kind: await bench.writer(server) for kind, server in servers.items()}
        try:
            for kind, server in servers.items():
                await bench.warm_up(server, writers[kind])
            await run_latency(bench, servers, writers)
            await run_cost(bench, servers, writers)
            await run_burst(bench, servers, writers)
        finally:
            for writer in writers.values():
                await bench.finish(writer)
