"""Figures, targets, the table and the results file of the benchmark."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import pytest

from bench.report import (
    Figure,
    Report,
    Target,
    machine_info,
    percentile,
    render_table,
    results_path,
    write_results,
)


def test_percentile_interpolates_between_samples() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]
    assert percentile(samples, 0.0) == 1.0
    assert percentile(samples, 1.0) == 4.0
    assert percentile(samples, 0.5) == 2.5
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_figure_medians_and_ratio() -> None:
    fig = Figure("2 cost", "cpu per event N=10", "us", core=[30.0, 10.0, 20.0], floor=[10.0, 9.0, 11.0])
    assert fig.core_median == 20.0
    assert fig.floor_median == 10.0
    assert fig.ratio == 2.0
    assert math.isnan(Figure("x", "y", "ms", core=[1.0]).ratio)


def test_target_checks_ratio_or_core_value() -> None:
    report = Report()
    report.figure("1 latency", "p99 N=1", "ms").core.extend([2.0])
    report.figure("1 latency", "p99 N=1", "ms").floor.extend([1.0])
    report.figure("5 memory", "rss", "KiB").core.append(50.0)
    report.targets += [
        Target("p99 <= 1.3x floor", ("1 latency", "p99 N=1"), 1.3, "ratio"),
        Target("<= 64 KiB", ("5 memory", "rss"), 64.0, "core"),
        Target("absent", ("9 none", "none"), 1.0, "core"),
    ]
    results = report.evaluated_targets()
    assert [r["met"] for r in results] == [False, True, None]
    assert results[0]["value"] == 2.0


def test_table_lists_figures_ratios_and_misses() -> None:
    report = Report()
    fig = report.figure("3 burst", "1000 keys N=10", "ms")
    fig.core.append(30.0)
    fig.floor.append(10.0)
    cli = report.figure("6 cli", "config get", "ms", floor_label="import grpc")
    cli.core.append(200.0)
    cli.floor.append(100.0)
    report.targets.append(Target("burst <= 1.5x floor", ("3 burst", "1000 keys N=10"), 1.5, "ratio"))
    table = render_table(report)
    lines = table.splitlines()
    assert lines[0].split() == ["case", "figure", "unit", "core", "floor", "ratio"]
    assert any("1000 keys N=10" in line and "3.00x" in line for line in lines)
    assert any("(import grpc)" in line and "2.00x" in line for line in lines)
    assert "[MISS] burst <= 1.5x floor: 3 (limit 1.5)" in table


def test_results_file_holds_machine_figures_and_targets(tmp_path: Path) -> None:
    report = Report()
    report.figure("1 latency", "p50 N=1", "ms").floor.append(1.5)
    path = write_results(report, tmp_path / "results", {"quick": True}, 12.3)
    assert path.parent == tmp_path / "results"
    assert path.suffix == ".json"
    document = json.loads(path.read_text())
    assert document["settings"] == {"quick": True}
    assert document["figures"][0]["floor_median"] == 1.5
    assert document["figures"][0]["core_median"] is None
    assert document["machine"]["cpu_count"] >= 1
    assert list(tmp_path.joinpath("results").iterdir()) == [path]


def test_results_path_is_a_utc_timestamp(tmp_path: Path) -> None:
    moment = datetime.datetime(2025, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
    assert results_path(tmp_path, moment) == tmp_path / "20250304T050607Z.json"


@pytest.mark.parametrize("key", ["cpu_model", "python", "packages"])
def test_machine_info_names_the_machine(key: str) -> None:
    info = machine_info()
    assert info[key]
    assert info["packages"]["grpcio"]
