"""``python -m bench.soak`` (``make soak``): a bounded churn run against a real core agent that fails
when the core's resources grow or when a subscriber loses anything.

For ``--seconds`` (default ``$SOAK_SECONDS``, else 600) the driver:

- writes about ``--rate`` updates per second through ``Settings/SetSettings`` (batches of
  ``--batch`` keys over a pool of ``--keys`` keys, some unsets), a value just under the 1 MiB value
  limit every 2 s, and a hostile write every second (alias bomb, self-referencing alias, value over
  the limit, wrong type, a valid key beside a hostile one), each of which must be refused with
  INVALID_ARGUMENT;
- runs steady subscriber processes, a churning one (replaced every ``--churn-period`` seconds: its
  subscribers leave and new ones join), and one that is SIGSTOPped for a while, then continued (its
  sessions expire meanwhile: it must come back by registering again and resyncing);
- samples the core's RSS, open file descriptors and threads every second.

It fails (exit 1, one line naming the reason) when, after the warm-up, the maximum of a sample series
over the last third of the run exceeds its maximum over the first third by more than a tolerance; when
a subscriber saw a gap or a sequence id going backwards, or ends with a view different from the
core's effective settings; or when a hostile write was accepted. Everything goes to
``bench/results/soak-<UTC timestamp>.json`` (``--out`` to change the directory).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

from bench.hostile import HostileWrite, hostile_writes, near_limit_text
from bench.procs import Child, ChildError, ProcessGroup, rss_bytes
from bench.servers import CORE, Secrets, Server, make_secrets, new_config, start_server
from bench.soak_subscriber import view_digest
from pkg.ipc import auth_metadata, client_credentials, load_client_material, secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.protoconv.values import from_value

__all__ = ["Growth", "SoakPlan", "growth", "main", "run_soak"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
KEY_PREFIX = "bench.soak.k"
LARGE_KEYS = ("bench.soak.large0", "bench.soak.large1")
HOSTILE_PREFIX = "bench.soak.hostile."
SERIES = ("rss_kib", "fds", "threads")
TOLERANCE = {"rss_kib": (0.10, 16 * 1024), "fds": (0.0, 16), "threads": (0.0, 2)}
"""Per series: (relative, absolute) growth allowed; the larger of the two applies."""


@dataclass(frozen=True)
class SoakPlan:
    seconds: float
    rate: float = 1000.0
    batch: int = 10
    lanes: int = 3
    keys: int = 1000
    steady_processes: int = 2
    subscribers_per_process: int = 3
    churn_period: float = 10.0
    large_period: float = 2.0
    hostile_period: float = 1.0
    idle_timeout: str = "10s"
    refresh: float = 2.0

    @property
    def warmup(self) -> float:
        return max(10.0, self.seconds * 0.2)

    @property
    def stop_at(self) -> float:
        """When the stopped reader is SIGSTOPped (seconds from the start)."""
        return self.warmup

    @property
    def stop_for(self) -> float:
        """How long it stays stopped: longer than the idle timeout, so its sessions are evicted."""
        return min(30.0, max(12.0, self.seconds * 0.15))


@dataclass(frozen=True)
class Growth:
    """The comparison of one sample series: the first and last third after the warm-up."""

    series: str
    first_max: float
    last_max: float
    allowed: float

    @property
    def grew(self) -> bool:
        return self.last_max > self.first_max + self.allowed


def growth(samples: Sequence[dict[str, float]], series: str, warmup: float) -> Growth | None:
    """How ``series`` moved after ``warmup`` seconds; None when too few samples to judge (< 6)."""
    values = [s[series] for s in samples if s["t"] >= warmup]
    if len(values) < 6:
        return None
    third = len(values) // 3
    first, last = max(values[:third]), max(values[-third:])
    relative, absolute = TOLERANCE[series]
    return Growth(series, first, last, max(first * relative, absolute))


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise ChildError(f"no Threads in /proc/{pid}/status")


@dataclass
class _Counters:
    calls: int = 0
    updates_requested: int = 0
    unsets: int = 0
    large: int = 0
    hostile_refused: dict[str, int] = field(default_factory=dict)
    hostile_accepted: dict[str, int] = field(default_factory=dict)
    hostile_examples: list[str] = field(default_factory=list)
    """The first not refused of each kind, with what the core answered."""
    errors: list[str] = field(default_factory=list)


class _Writer:
    """The write load, on one channel of the driver's loop."""

    def __init__(self, stub: settings_pb2_grpc.SettingsAsyncStub, token: str, plan: SoakPlan) -> None:
        self._stub = stub
        self._metadata = auth_metadata(token)
        self._plan = plan
        self._rng = random.Random(20261202)
        self._hostile = hostile_writes(HOSTILE_PREFIX)
        self.counters = _Counters()
        self.last_seq = 0
        self._values = itertools.count()

    async def _set(self, values: dict[str, str]) -> None:
        reply = await self._stub.SetSettings(
            settings_pb2.SetSettingsRequest(values=values), metadata=self._metadata, timeout=30
        )
        self.last_seq = max(self.last_seq, reply.sequence_id)
        self.counters.calls += 1

    async def _unset(self, key: str) -> None:
        reply = await self._stub.UnsetSetting(
            settings_pb2.UnsetSettingRequest(key=key), metadata=self._metadata, timeout=30
        )
        self.last_seq = max(self.last_seq, reply.sequence_id)
        self.counters.unsets += 1

    async def _hostile_write(self, write: HostileWrite) -> None:
        try:
            await self._set(write.values)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                refused = self.counters.hostile_refused
                refused[write.kind] = refused.get(write.kind, 0) + 1
            else:
                self._not_refused(write, f"answered {exc.code().name}: {(exc.details() or '')[:120]}")
            return
        self._not_refused(write, f"accepted ({', '.join(sorted(write.values))})")
        for key in write.values:  # take it back, so that the run goes on with a sane config
            await self._unset(key)

    def _not_refused(self, write: HostileWrite, how: str) -> None:
        accepted = self.counters.hostile_accepted
        if write.kind not in accepted:
            self.counters.hostile_examples.append(f"{write.kind} {how}")
        accepted[write.kind] = accepted.get(write.kind, 0) + 1

    async def run(self, seconds: float) -> None:
        """``--lanes`` concurrent loops share the rate (one call at a time cannot reach it here)."""
        await asyncio.gather(*(self._lane(seconds, lane) for lane in range(self._plan.lanes)))

    async def _lane(self, seconds: float, lane: int) -> None:
        plan = self._plan
        interval = plan.lanes * plan.batch / plan.rate
        started = time.monotonic()
        next_large = started + plan.large_period
        next_hostile = started + plan.hostile_period
        values = self._values
        for i in itertools.count():
            due = started + i * interval
            now = time.monotonic()
            if now - started >= seconds:
                return
            if due > now:
                await asyncio.sleep(due - now)  # the write schedule
            try:
                if lane == 0 and now >= next_large:
                    next_large += plan.large_period
                    self.counters.large += 1
                    turn = self.counters.large % len(LARGE_KEYS)
                    # Kept as text ("@...") and parsed as one long YAML scalar ("v..."), in turn.
                    text = near_limit_text(f"{next(values)}-", lead="@v"[turn])
                    await self._set({LARGE_KEYS[turn]: text})
                if lane == 0 and now >= next_hostile:
                    next_hostile += plan.hostile_period
                    await self._hostile_write(next(self._hostile))
                if self._rng.random() < 0.05:
                    await self._unset(f"{KEY_PREFIX}{self._rng.randrange(plan.keys):04d}")
                    continue
                keys = self._rng.sample(range(plan.keys), plan.batch)
                await self._set({f"{KEY_PREFIX}{k:04d}": f"v{next(values)}" for k in keys})
                self.counters.updates_requested += plan.batch
            except grpc.aio.AioRpcError as exc:
                self.counters.errors.append(f"{exc.code().name}: {exc.details()}")
                if len(self.counters.errors) > 20:
                    raise ChildError(f"the core keeps failing writes: {self.counters.errors[-1]}") from None


class _Soak:
    def __init__(self, plan: SoakPlan, workdir: Path, log: Any) -> None:
        self.plan = plan
        self.workdir = workdir
        self.group = ProcessGroup(workdir)
        self.secrets: Secrets = make_secrets(workdir / "secrets")
        self.samples: list[dict[str, float]] = []
        self.events: list[dict[str, Any]] = []
        self.log = log
        self.started = time.monotonic()
        self.server: Server | None = None
        self.churned = 0

    def note(self, what: str, **extra: Any) -> None:
        elapsed = time.monotonic() - self.started
        self.events.append({"t": round(elapsed, 2), "event": what, **extra})
        self.log(f"[{elapsed:7.1f}s] {what}", flush=True)

    async def start_core(self) -> Server:
        config, port = new_config(self.workdir, CORE, self.secrets)
        document = yaml.safe_load(config.read_text())
        document["remote_agent"] = {
            "registry": {"idle_timeout": self.plan.idle_timeout, "recommended_refresh_interval": "2s"}
        }
        config.write_text(yaml.safe_dump(document))
        return await start_server(CORE, self.group, self.secrets, config, port=port, limit_s=60)

    async def subscribers(self, name: str, count: int) -> Child:
        assert self.server is not None
        args = [
            "--target",
            self.server.address,
            *self.secrets.args(),
            "--count",
            str(count),
            "--name",
            name,
            "--refresh",
            str(self.plan.refresh),
        ]
        child = await self.group.spawn_python(name, "bench.soak_subscriber", args)
        await child.receive(90)
        return child

    async def sample(self, pid: int) -> None:
        while True:
            self.samples.append(
                {
                    "t": round(time.monotonic() - self.started, 2),
                    "rss_kib": rss_bytes(pid) // 1024,
                    "fds": _fds(pid),
                    "threads": _threads(pid),
                }
            )
            await asyncio.sleep(1.0)  # the sampling period

    async def churn(self, first: Child) -> Child:
        """Replace the churning process every churn period: its subscribers leave, new ones join."""
        current = first
        try:
            while True:
                await asyncio.sleep(self.plan.churn_period)  # the churn period
                await self.group.stop(current)
                self.churned += 1
                current = await self.subscribers(f"churn{self.churned}", 2)
                self.note(f"churn: subscribers of churn{self.churned - 1} left, churn{self.churned} joined")
        except asyncio.CancelledError:
            return current

    async def stop_and_continue(self, child: Child) -> None:
        await asyncio.sleep(self.plan.stop_at)  # the schedule of the run
        child.proc.send_signal(signal.SIGSTOP)
        self.note(f"SIGSTOP {child.name} for {self.plan.stop_for:g}s")
        try:
            await asyncio.sleep(self.plan.stop_for)
        finally:
            child.proc.send_signal(signal.SIGCONT)
            self.note(f"SIGCONT {child.name}")


async def _core_view(stub: settings_pb2_grpc.SettingsAsyncStub, token: str) -> tuple[str, int, int]:
    """The digest of the core's effective settings, their count and its sequence id."""
    try:
        reply = await stub.ListSettings(
            settings_pb2.ListSettingsRequest(), metadata=auth_metadata(token), timeout=30
        )
    except grpc.aio.AioRpcError as exc:
        raise ChildError(f"the core's ListSettings failed: {exc.code().name}: {exc.details()}") from None
    view = {s.key: (from_value(s.value), s.source) for s in reply.settings}
    return view_digest(view), len(view), int(reply.sequence_id)


def _losses(reports: Sequence[dict[str, Any]], digest: str, keys: int, core_seq: int) -> list[str]:
    """Why each subscriber that lost something did (it ends at the core's id with the core's view)."""
    reasons = []
    for report in reports:
        name = report["name"]
        if report["gaps"] or report["backwards"]:
            reasons.append(f"{name} lost updates: {report['anomalies'][:2]}")
        elif report["seq"] != core_seq:
            reasons.append(f"{name} stopped at sequence id {report['seq']}, the core is at {core_seq}")
        elif report["digest"] != digest:
            reasons.append(f"{name}'s view ({report['keys']} keys) differs from the core's ({keys} keys)")
    return reasons


def _growths(samples: Sequence[dict[str, float]], warmup: float) -> list[str]:
    reasons = []
    for series in SERIES:
        judged = growth(samples, series, warmup)
        if judged is not None and judged.grew:
            reasons.append(
                f"{series} grew after the warm-up: max {judged.first_max:g} in the first third, "
                f"{judged.last_max:g} in the last (allowed +{judged.allowed:g})"
            )
    return reasons


async def run_soak(plan: SoakPlan, workdir: Path, log: Any = print) -> dict[str, Any]:
    """Run the soak; the document written to the results (``verdict``: ``passed`` or the reasons)."""
    soak = _Soak(plan, workdir, log)
    reasons: list[str] = []
    subscriber_reports: list[dict[str, Any]] = []
    writer: _Writer | None = None
    try:
        soak.server = await soak.start_core()
        soak.note(f"core serving on {soak.server.address} (pid {soak.server.pid})")
        steady = [
            await soak.subscribers(f"steady{i}", plan.subscribers_per_process)
            for i in range(plan.steady_processes)
        ]
        stopped = await soak.subscribers("stopped", 2)
        churning = await soak.subscribers("churn0", 2)
        soak.note(f"{(plan.steady_processes * plan.subscribers_per_process) + 4} subscribers streaming")

        material = load_client_material(soak.secrets.token_file, soak.secrets.cert_file)
        credentials = client_credentials(material.cert_pem, material.key_pem)
        async with secure_channel(soak.server.address, credentials) as channel:
            stub = settings_pb2_grpc.SettingsStub(channel)
            writer = _Writer(stub, material.token, plan)
            soak.started = time.monotonic()  # the clock of the samples and of the schedule
            soak.note("load started")
            sampler = asyncio.create_task(soak.sample(soak.server.pid))
            churn = asyncio.create_task(soak.churn(churning))
            stopper = asyncio.create_task(soak.stop_and_continue(stopped))
            try:
                await writer.run(plan.seconds)
            finally:
                churn.cancel()
                churning = await churn
                stopper.cancel()  # continues the stopped reader if it is still stopped
                await asyncio.gather(stopper, return_exceptions=True)
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
            counted = writer.counters
            soak.note(f"writes done: {counted.updates_requested} updates in {counted.calls} calls")

            core = await _core_view(stub, material.token)
            for child in [*steady, stopped, churning]:
                reply = await child.request({"cmd": "report", "seq": core[2], "timeout": 60}, 90)
                subscriber_reports += [{"process": child.name, **s} for s in reply["subscribers"]]
        reasons += _losses(subscriber_reports, *core)
        reasons += _growths(soak.samples, plan.warmup)
    except grpc.aio.AioRpcError as exc:
        reasons.append(f"the run broke off: {exc.code().name}: {exc.details()}")
    except (ChildError, TimeoutError) as exc:
        reasons.append(f"the run broke off: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await soak.group.stop_all()
    counters = writer.counters if writer is not None else _Counters()
    reasons += [f"hostile write not refused: {what}" for what in counters.hostile_examples]
    elapsed = time.monotonic() - soak.started
    return {
        "kind": "soak",
        "plan": {**plan.__dict__, "warmup": plan.warmup, "stop_at": plan.stop_at, "stop_for": plan.stop_for},
        "verdict": reasons or "passed",
        "seconds": round(elapsed, 1),
        "updates_per_second": round(counters.updates_requested / max(plan.seconds, 1e-9), 1),
        "writes": counters.__dict__,
        "churned_processes": soak.churned,
        "growth": {s: (g.__dict__ if (g := growth(soak.samples, s, plan.warmup)) else None) for s in SERIES},
        "subscribers": subscriber_reports,
        "events": soak.events,
        "samples": soak.samples,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    default_seconds = float(os.environ.get("SOAK_SECONDS") or 600)
    parser.add_argument("--seconds", type=float, default=default_seconds, help="length of the churn")
    parser.add_argument("--rate", type=float, default=1000.0, help="updates per second")
    parser.add_argument("--batch", type=int, default=10, help="keys per SetSettings call")
    parser.add_argument("--lanes", type=int, default=3, help="concurrent writers sharing the rate")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory of the results file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.seconds < 20:
        print(
            f"soak: --seconds {args.seconds:g}: too short to judge growth, expected at least 20",
            file=sys.stderr,
        )
        return 2
    plan = SoakPlan(seconds=args.seconds, rate=args.rate, batch=args.batch, lanes=args.lanes)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        document = asyncio.run(asyncio.wait_for(run_soak(plan, workdir), plan.seconds + 300))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    verdict = document["verdict"]
    for series, judged in document["growth"].items():
        if judged is not None:
            first, last = judged["first_max"], judged["last_max"]
            print(f"{series}: max {first:g} in the first third after warm-up, {last:g} in the last")
    print(f"soak: {document['updates_per_second']:g} updates/s for {plan.seconds:g}s; results in {path}")
    if verdict != "passed":
        extra = f" (and {len(verdict) - 1} more)" if len(verdict) > 1 else ""
        print(f"soak: FAILED: {verdict[0]}{extra}", file=sys.stderr)
        return 1
    print("soak: passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
