"""What every case shares: the plan (sizes and repetitions), the process group, the servers, and
helpers that start subscriber and writer processes against a server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import Child, ChildError, ProcessGroup
from bench.report import Report
from bench.servers import CORE, FLOOR, Secrets, Server, new_config, start_server

__all__ = ["BURST_PREFIX", "LATENCY_KEY", "MIX_PREFIX", "Bench", "Plan", "full_plan", "quick_plan"]

LATENCY_KEY = "bench.latency"
BURST_PREFIX = "bench.burst.k"
MIX_PREFIX = "bench.mix.k"


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of every case."""

    runs: int
    latency_subscribers: tuple[int, ...]
    latency_rate: float
    latency_seconds: float
    cost_subscribers: tuple[int, ...]
    cost_seconds: float
    burst_keys: int
    burst_subscribers: int
    snapshot_settings: int
    storm_subscribers: int
    idle_subscribers: int
    cli_runs: int
    step_timeout: float
    write_seconds: float = 2.0
    scale_settings: tuple[int, ...] = (10_000, 100_000)
    batch_subscribers: tuple[int, ...] = (10, 100)
    batch_updates: int = 256
    batch_keys_per_set: int = 16
    batch_seconds: float = 2.0
    filter_subscribers: int = 10
    filter_keys: int = 100
    filter_seconds: float = 2.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def full_plan(runs: int = 5) -> Plan:
    return Plan(
        runs=runs,
        latency_subscribers=(1, 10, 100),
        latency_rate=100.0,
        latency_seconds=3.0,
        cost_subscribers=(10, 100),
        cost_seconds=2.0,
        burst_keys=1000,
        burst_subscribers=10,
        snapshot_settings=10_000,
        storm_subscribers=100,
        idle_subscribers=998,  # with the warm-up's two sessions: the registry's limit of 1,000 agents
        cli_runs=max(runs, 5),
        step_timeout=180.0,
    )


def quick_plan(runs: int = 1) -> Plan:
    return Plan(
        runs=runs,
        latency_subscribers=(1, 10),
        latency_rate=100.0,
        latency_seconds=0.5,
        cost_subscribers=(10,),
        cost_seconds=0.3,
        burst_keys=100,
        burst_subscribers=2,
        snapshot_settings=1000,
        storm_subscribers=10,
        idle_subscribers=50,
        cli_runs=runs,
        step_timeout=60.0,
        write_seconds=0.3,
        scale_settings=(1000, 2000),
        batch_subscribers=(5,),
        batch_seconds=0.3,
        filter_subscribers=3,
        filter_seconds=0.3,
    )


@dataclass
class Bench:
    """The state of one benchmark run."""

    plan: Plan
    group: ProcessGroup
    workdir: Path
    secrets: Secrets
    kinds: tuple[str, ...] = (CORE, FLOOR)
    report: Report = field(default_factory=Report)
    log: Callable[[str], None] = print

    def say(self, text: str) -> None:
        self.log(f"[{time.strftime('%H:%M:%S')}] {text}")

    async def start(self, kind: str, bulk_settings: int = 0, **options: Any) -> Server:
        """A server of ``kind``; ``options``: more arguments of :func:`bench.servers.write_config`."""
        config, port = new_config(self.workdir, kind, self.secrets, bulk_settings, **options)
        return await start_server(
            kind, self.group, self.secrets, config, port=port, limit_s=self.plan.step_timeout
        )

    @contextlib.asynccontextmanager
    async def servers(self, bulk_settings: int = 0, **options: Any) -> AsyncIterator[dict[str, Server]]:
        """One server of each kind, stopped on exit."""
        started: dict[str, Server] = {}
        try:
            for kind in self.kinds:
                started[kind] = await self.start(kind, bulk_settings, **options)
            yield started
        finally:
            for server in started.values():
                await self.group.stop(server.child)

    async def subscribers(self, server: Server, count: int, extra: Sequence[str] = ()) -> Child:
        """A subscriber process with ``count`` connected and registered subscribers (not streaming);
        ``extra``: more options of :mod:`bench.subscribers` (extensions to ask for)."""
        args = ["--target", server.address, *self.secrets.args(), "--count", str(count), *extra]
        child = await self.group.spawn_python(f"subscribers-{server.kind}-{count}", "bench.subscribers", args)
        await child.receive(self.plan.step_timeout + count * 0.1)
        return child

    async def streaming(
        self, server: Server, count: int, extra: Sequence[str] = ()
    ) -> tuple[Child, dict[str, Any]]:
        """A subscriber process whose ``count`` subscribers all have their first snapshot."""
        child = await self.subscribers(server, count, extra)
        result = await child.request(
            {"cmd": "stream", "timeout": self.plan.step_timeout}, self.plan.step_timeout + 5
        )
        return child, result

    async def writer(self, server: Server) -> Child:
        child = await self.group.spawn_python(
            f"writer-{server.kind}", "bench.writer", ["--target", server.address, *self.secrets.args()]
        )
        await child.receive(self.plan.step_timeout)
        return child

    async def wait_seq(self, subscribers: Child, seq: int) -> dict[str, Any]:
        """Until every subscriber of the process has seen ``seq``; raises when some never do."""
        timeout = self.plan.step_timeout
        reached = await subscribers.request({"cmd": "wait_seq", "seq": seq, "timeout": timeout}, timeout + 5)
        if not reached.get("ok"):
            raise ChildError(f"{subscribers.name}: subscribers did not all reach seq_id={seq}: {reached}")
        return reached

    async def finish(self, child: Child) -> None:
        """Ask a JSON-lines child to exit, then make sure it did."""
        with contextlib.suppress(ChildError):
            await child.send({"cmd": "exit"})
        await self.group.stop(child)

    async def warm_up(self, server: Server, writer: Child) -> None:
        """Exercise every path once, so that the first measured run pays no one-time costs."""
        subscribers, _ = await self.streaming(server, 2)
        done = await writer.request({"cmd": "rate", "key": LATENCY_KEY, "rate": 200, "count": 20}, 60)
        await self.wait_seq(subscribers, int(done["final_seq"]))
        await self.finish(subscribers)
