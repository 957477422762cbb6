"""``python -m bench`` (``make bench``): every case against the core agent and the floor, a table of
medians with ratios to the floor, and ``bench/results/<UTC timestamp>.json``.

The whole run is bounded by ``--timeout``; whatever happens (failure, timeout, SIGINT, SIGTERM)
every process it started is stopped before it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.cases_scale import run_batch, run_filter, run_snapshot_scale, run_write
from bench.cases_server import run_cli, run_memory, run_snapshot
from bench.cases_stream import stream_cases
from bench.context import Bench, Plan, full_plan, quick_plan
from bench.procs import ChildError, ProcessGroup
from bench.report import render_table, write_results
from bench.servers import CORE, FLOOR, make_secrets

__all__ = ["CASES", "main", "run_bench"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CASES: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "stream": stream_cases,  # 1 latency, 2 cost, 3 burst
    "snapshot": run_snapshot,
    "memory": run_memory,
    "cli": run_cli,
    "write": run_write,  # 7 write path at N=1
    "scale": run_snapshot_scale,  # 8 snapshots of 10,000 and 100,000 settings
    "batch": run_batch,  # 9
    "filter": run_filter,  # 10
}
_FD_NEEDED = 8192  # a thousand TLS connections on each side, with room


def _raise_fd_limit() -> None:
    """Children inherit the limit: the subscriber process and the servers hold >1,000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _FD_NEEDED if hard == resource.RLIM_INFINITY else min(_FD_NEEDED, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def run_bench(plan: Plan, kinds: tuple[str, ...], cases: Sequence[str], workdir: Path) -> Bench:
    """Run ``cases`` and return the bench (its report holds every figure); stops all it started."""
    group = ProcessGroup(workdir)
    bench = Bench(
        plan=plan, group=group, workdir=workdir, secrets=make_secrets(workdir / "secrets"), kinds=kinds
    )
    try:
        for name in cases:
            await CASES[name](bench)
    finally:
        await group.stop_all()
    return bench


async def _bounded(
    plan: Plan, kinds: tuple[str, ...], cases: Sequence[str], workdir: Path, limit_s: float
) -> Bench:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    return await asyncio.wait_for(run_bench(plan, kinds, cases, workdir), limit_s)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Config stream benchmark.")
    parser.add_argument(
        "--quick", action="store_true", help="one run of each case with small sizes (smoke test)"
    )
    parser.add_argument(
        "--runs", type=int, help="runs per figure, at least 3 for medians (default 5; --quick: 1)"
    )
    parser.add_argument(
        "--targets",
        choices=("both", "floor", "core"),
        default="both",
        help="servers to measure (default both; 'floor' works without a core agent)",
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)} (default all)"
    )
    parser.add_argument(
        "--timeout", type=float, help="give up after this many seconds (default 1800; --quick 300)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help=f"results directory (default {RESULTS_DIR})"
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the working directory with process logs"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"python -m bench: unknown case(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.runs is not None and args.runs < 1:
        print("python -m bench: --runs must be at least 1", file=sys.stderr)
        return 2
    plan = quick_plan(args.runs or 1) if args.quick else full_plan(args.runs or 5)
    kinds = {"both": (CORE, FLOOR), "floor": (FLOOR,), "core": (CORE,)}[args.targets]
    timeout = args.timeout or (300.0 if args.quick else 1800.0)
    _raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    try:
        bench = asyncio.run(_bounded(plan, kinds, cases, workdir, timeout))
    except TimeoutError:
        print(f"python -m bench: stopped after the {timeout:.0f}s limit (logs: {workdir})", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        print(f"python -m bench: interrupted (logs: {workdir})", file=sys.stderr)
        return 130
    except ChildError as exc:
        print(f"python -m bench: {exc}\n(logs: {workdir})", file=sys.stderr)
        return 1
    print()
    print(render_table(bench.report))
    settings = {
        "plan": plan.as_dict(),
        "servers": list(kinds),
        "cases": cases,
        "quick": args.quick,
        "load_average_at_start": load_at_start,
    }
    path = write_results(bench.report, args.out, settings, time.monotonic() - started)
    print(f"\nresults: {path}")
    if args.keep_logs:
        print(f"logs: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
