"""``core-agent fleet`` as a real process against a real etcd: validation, compare-on-revision
writes, --force, masking."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.etcd_server import EtcdCluster

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fleet_cli(etcd: EtcdCluster, tmp_path: Path) -> Runner:
    config = tmp_path / "datadog.yaml"
    config.write_text(
        f"remote_config:\n  etcd:\n    endpoints: [{etcd.endpoints[0]}]\n    scopes: [global, host:h1]\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
        return subprocess.run(
            [sys.executable, "-m", "core_agent", "fleet", *args, "-c", str(config)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=60,
        )

    return run


def _revision(line: str) -> int:
    return int(line.rsplit("(revision ", 1)[1].split(")", 1)[0])


def test_set_compares_on_revision_and_force_overrides(fleet_cli: Runner) -> None:
    run = fleet_cli
    created = run("set", "log_level", "debug")
    assert created.returncode == 0, created.stderr
    first = _revision(created.stdout)
    assert created.stdout.startswith("log_level = debug at scope global")

    again = run("set", "log_level", "warn")
    assert again.returncode == 1
    assert f"already holds 'debug' (revision {first}); pass --revision {first}" in again.stderr

    replaced = run("set", "log_level", "warn", "--revision", str(first))
    assert replaced.returncode == 0, replaced.stderr
    stale = run("set", "log_level", "error", "--revision", str(first))
    assert stale.returncode == 1
    assert f"changed since revision {first}: it holds 'warn'" in stale.stderr

    forced = run("set", "log_level", "error", "--force")
    assert forced.returncode == 0, forced.stderr
    got = run("get", "log_level")
    assert got.stdout.startswith("global: error  (revision ")
    assert "(effective on this host)" in got.stdout


def test_invalid_values_are_refused_before_writing(fleet_cli: Runner) -> None:
    run = fleet_cli
    for key, value, expected in (
        ("log_level", "loud", "expected one of trace"),
        ("log_file_max_rolls", "[1]", "expected an integer"),
        ("cmd_port", "6000", "'cmd_port' needs a restart: agents apply from the fleet only"),
        ("log_levl", "debug", "unknown setting 'log_levl': did you mean log_level"),
        ("tags", "{a: &x 1, b: *x}", "anchors and aliases"),
    ):
        refused = run("set", key, value)
        assert refused.returncode == 1, refused.stdout
        assert expected in refused.stderr
        assert refused.stderr.count("\n") == 1
    listing = run("list")
    assert listing.stdout == "# 0 values at etcd revision 1\n"
    quoted = run("set", "hostname", "123", "--scope", "host:h1")  # a string key keeps the text
    assert quoted.returncode == 0, quoted.stderr
    assert "hostname = 123 at scope host:h1" in quoted.stdout


def test_unset_names_the_revision_and_secrets_are_masked(fleet_cli: Runner) -> None:
    run = fleet_cli
    secret = "abcdef0123456789abcdef0123456789"
    created = run("set", "api_key", secret, "--scope", "host:h1")
    assert created.returncode == 0, created.stderr
    assert secret not in created.stdout
    listing = run("list")
    assert "host:h1  api_key = " + "*" * 27 + "56789" in listing.stdout
    assert secret not in listing.stdout
    refused = run("unset", "api_key", "--scope", "host:h1")
    assert refused.returncode == 1
    assert secret not in refused.stderr
    revision = _revision(created.stdout)
    removed = run("unset", "api_key", "--scope", "host:h1", "--revision", str(revision))
    assert removed.returncode == 0, removed.stderr
    assert run("get", "api_key").returncode == 1
