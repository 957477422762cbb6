"""``make soak`` in CI: a shortened soak against a real core agent must pass.

The full run (``make soak``) lasts ten minutes; this one lasts ``SOAK_CI_SECONDS`` (default 60; the
whole suite stays well under ten minutes on two cores), long enough for a warm-up, a stopped reader
whose sessions expire, churn rounds and three thirds of samples to compare.
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
SECONDS = float(os.environ.get("SOAK_CI_SECONDS") or 60)


@pytest.mark.timeout(SECONDS + 240)
def test_a_short_soak_keeps_resources_flat_and_loses_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env["TMPDIR"] = str(tmp_path)  # the soak's working directory (configs, secrets, logs) lands here
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", f"{SECONDS:g}", "--out", str(tmp_path / "results")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SECONDS + 200,
        check=False,
    )
    (path,) = (tmp_path / "results").glob("soak-*.json")
    document = json.loads(path.read_text())
    print(result.stdout)
    assert result.returncode == 0, f"{result.stderr.strip()}\nverdict: {document['verdict']}"
    assert document["verdict"] == "passed"

    # The run did what it claims: steady load, a stopped reader that came back, churn, hostile writes.
    assert document["updates_per_second"] > 300
    stopped = [s for s in document["subscribers"] if s["process"] == "stopped"]
    assert stopped and all(s["registrations"] >= 2 for s in stopped), "the stopped reader was not evicted"
    assert document["churned_processes"] >= 2
    assert sum(document["writes"]["hostile_refused"].values()) >= SECONDS / 2
    assert len(document["samples"]) >= SECONDS * 0.9
