"""``python -m bench.fleet``: one real etcd, K simulated cores (fleet sources in this process, each on
its own gRPC connection, each applying to its own config), the time from a put to the last core
applying it, and etcd's CPU and memory.

    python -m bench.fleet --cores 100,1000 --puts 20

Results go to ``bench/results/fleet-<UTC timestamp>.json``. The cores share one Python process and
one event loop, so the time to the last core includes this process working through K watch
responses one after the other: a bound above what K separate hosts would see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from comp.core.config.mock import new_mock
from comp.core.fleet.impl import Requires, new_component
from pkg.config.change import ConfigChange
from pkg.etcd import EtcdClient, EtcdOptions
from pkg.util.lifecycle import Lifecycle
from tests.etcd_server import EtcdCluster

__all__ = ["main", "run_case"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_case(cluster: EtcdCluster, cores: int, puts: int) -> dict[str, Any]:
    """Start ``cores`` fleet sources, time ``puts`` global changes to the last of them, stop them."""
    pid = cluster.members[0].process.pid if cluster.members[0].process else 0
    rss_before = _rss_kib(pid)
    expected = {"value": -1}
    applied = {"count": 0}
    done = asyncio.Event()

    def on_change(change: ConfigChange) -> None:
        if change.key != "hostname":
            return
        if change.new == f"h{expected['value']}":
            applied["count"] += 1
            if applied["count"] == cores:
                done.set()

    settings = {
        "remote_config.etcd.endpoints": list(cluster.endpoints),
        "remote_config.etcd.scopes": ["global"],
        "remote_config.etcd.request_timeout": "30s",
        "remote_config.etcd.startup_timeout": "60s",
    }
    lifecycles = []
    started = time.monotonic()
    for _ in range(cores):
        config = new_mock(settings)
        config.on_update(on_change)
        lifecycle = Lifecycle()
        new_component(Requires(lifecycle, config))
        lifecycles.append(lifecycle)
    await asyncio.gather(*(lc.start() for lc in lifecycles))
    start_seconds = time.monotonic() - started
    rss_watching = _rss_kib(pid)
    client = EtcdClient(EtcdOptions(endpoints=cluster.endpoints, timeout=10.0))
    latencies = []
    cpu_before = _cpu_seconds(pid)
    try:
        for i in range(puts):
            expected["value"] = i
            applied["count"] = 0
            done.clear()
            t0 = time.perf_counter()
            await client.put("/datadog-agent/global/hostname", f"h{i}".encode(), expected_revision=None)
            await asyncio.wait_for(done.wait(), 60)
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        cpu = _cpu_seconds(pid) - cpu_before
        await client.close()
        await asyncio.gather(*(lc.stop() for lc in lifecycles))
    return {
        "cores": cores,
        "puts": puts,
        "start_all_s": round(start_seconds, 3),
        "put_to_last_core_ms_p50": round(_percentile(latencies, 0.5), 2),
        "put_to_last_core_ms_max": round(max(latencies), 2),
        "etcd_cpu_ms_per_put": round(cpu * 1000 / puts, 2),
        "etcd_rss_kib_idle": rss_before,
        "etcd_rss_kib_watching": rss_watching,
        "etcd_rss_kib_per_watcher": round((rss_watching - rss_before) / cores, 1),
    }


async def _main(core_counts: Sequence[int], puts: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        cluster = EtcdCluster(Path(tmp), 1)
        cluster.start()
        try:
            await cluster.wait_ready()
            return [await run_case(cluster, k, puts) for k in core_counts]
        finally:
            cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", default="100,1000", help="comma-separated K values (default 100,1000)")
    parser.add_argument("--puts", type=int, default=20, help="changes timed per K (default 20)")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    results = asyncio.run(_main([int(k) for k in args.cores.split(",")], args.puts))
    for row in results:
        sys.stdout.write(json.dumps(row) + "\n")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / time.strftime("fleet-%Y%m%dT%H%M%SZ.json", time.gmtime())
    out.write_text(json.dumps({"machine_cpus": os.cpu_count(), "results": results}, indent=1) + "\n")
    sys.stdout.write(f"results: {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
