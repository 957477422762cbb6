"""Smoke test of the benchmark harness: ``python -m bench --quick`` end to end, and its time bound.

Not a benchmark: no figure is judged, only that every case produced its figures, the results file
was written and no process the benchmark started is left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _run_bench(tmp_path: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env["TMPDIR"] = str(tmp_path)  # the working directory (configs, secrets, logs) lands here
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _leftover_processes(marker: Path) -> list[str]:
    """Command lines of running processes that mention ``marker`` (every child's argv does)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(marker) in cmdline:
            found.append(cmdline)
    return found


def test_quick_bench_measures_every_case_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = _run_bench(tmp_path, "--quick", "--out", str(out), "--timeout", "240", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "case" in result.stdout and "ratio" in result.stdout
    (path,) = out.glob("*.json")
    document = json.loads(path.read_text())
    cases = {f["case"] for f in document["figures"]}
    assert cases == {
        "1 latency",
        "2 cost",
        "3 burst",
        "4 snapshot",
        "5 memory",
        "6 cli",
        "7 write path",
        "8 snapshot at scale",
        "9 batch",
        "10 filter",
    }
    by_name = {(f["case"], f["name"]): f for f in document["figures"]}
    p99 = by_name[("1 latency", "p99 N=10")]
    assert p99["core_median"] > 0 and p99["floor_median"] > 0 and p99["ratio"] > 0
    assert by_name[("1 latency", "samples/expected N=10")]["core_median"] == 1.0
    assert by_name[("4 snapshot", "serializations in the storm (one seq id)")]["core_runs"]
    write = by_name[("7 write path", "cpu per update N=1")]
    assert write["core_median"] > 0 and write["floor_median"] > 0
    assert by_name[("8 snapshot at scale", "consumer apply 2000")]["core_median"] is not None
    assert by_name[("8 snapshot at scale", "snapshot bytes 2000")]["core_median"] > 2000 * 30
    assert by_name[("9 batch", "updates per message N=5")]["core_median"] >= 1
    assert by_name[("10 filter", "snapshot bytes, filtered to 1%")]["core_median"] > 0
    assert document["machine"]["packages"]["grpcio"]
    assert len(document["targets"]) >= 8
    assert _leftover_processes(tmp_path) == []


def test_bench_stops_every_process_when_its_time_is_up(tmp_path: Path) -> None:
    result = _run_bench(tmp_path, "--out", str(tmp_path / "results"), "--timeout", "4", timeout=60)
    assert result.returncode == 1
    assert "stopped after the 4s limit" in result.stderr
    assert not (tmp_path / "results").exists()
    assert _leftover_processes(tmp_path) == []
