"""Figures, their medians and ratios to the floor, the targets, the table and the results file."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "Figure",
    "Report",
    "Target",
    "machine_info",
    "percentile",
    "render_table",
    "write_results",
]

_PACKAGES = (
    "dd-configstream",
    "grpcio",
    "protobuf",
    "dependency-injector",
    "opentelemetry-sdk",
    "opentelemetry-exporter-prometheus",
    "prometheus-client",
    "pyyaml",
    "cryptography",
)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) with linear interpolation; NaN without samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


@dataclass
class Figure:
    """One measured quantity: a value per run for the core agent and (when it has one) the floor."""

    case: str
    name: str
    unit: str
    core: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_label: str = "floor"
    note: str = ""

    @property
    def core_median(self) -> float:
        return _median(self.core)

    @property
    def floor_median(self) -> float:
        return _median(self.floor)

    @property
    def ratio(self) -> float:
        """Core median over floor median (NaN without a floor)."""
        floor = self.floor_median
        if math.isnan(floor) or floor == 0:
            return math.nan
        return self.core_median / floor

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "name": self.name,
            "unit": self.unit,
            "core_median": _json_number(self.core_median),
            "floor_median": _json_number(self.floor_median),
            "floor_label": self.floor_label,
            "ratio": _json_number(self.ratio),
            "core_runs": [_json_number(v) for v in self.core],
            "floor_runs": [_json_number(v) for v in self.floor],
            "note": self.note,
        }


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


@dataclass
class Target:
    """A goal for one figure: its ratio to the floor (``measure="ratio"``) or the core's own median
    (``measure="core"``) must not exceed ``limit``."""

    description: str
    figure_key: tuple[str, str]
    limit: float
    measure: str

    def evaluate(self, figures: dict[tuple[str, str], Figure]) -> dict[str, Any]:
        figure = figures.get(self.figure_key)
        if figure is None:
            return {"target": self.description, "value": None, "limit": self.limit, "met": None}
        value = figure.ratio if self.measure == "ratio" else figure.core_median
        met = None if math.isnan(value) else value <= self.limit
        return {"target": self.description, "value": _json_number(value), "limit": self.limit, "met": met}


@dataclass
class Report:
    """Every figure of a run, in order, with the targets they are held to."""

    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, case: str, name: str, unit: str, *, floor_label: str = "floor") -> Figure:
        """The figure ``(case, name)``, created on first use."""
        for fig in self.figures:
            if (fig.case, fig.name) == (case, name):
                return fig
        fig = Figure(case, name, unit, floor_label=floor_label)
        self.figures.append(fig)
        return fig

    def evaluated_targets(self) -> list[dict[str, Any]]:
        by_key = {(f.case, f.name): f for f in self.figures}
        return [t.evaluate(by_key) for t in self.targets]


def _cell(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def render_table(report: Report) -> str:
    """A plain-text table: case, figure, unit, core, floor (or its stand-in), ratio; then the targets."""
    rows = [("case", "figure", "unit", "core", "floor", "ratio")]
    for fig in report.figures:
        floor = _cell(fig.floor_median)
        if fig.floor_label != "floor" and floor != "-":
            floor += f" ({fig.floor_label})"
        ratio = "-" if math.isnan(fig.ratio) else f"{fig.ratio:.2f}x"
        rows.append((fig.case, fig.name, fig.unit, _cell(fig.core_median), floor, ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    evaluated = report.evaluated_targets()
    if evaluated:
        lines.append("")
        lines.append("targets:")
        for result in evaluated:
            met = {True: "met ", False: "MISS", None: "n/a "}[result["met"]]
            value = "-" if result["value"] is None else f"{result['value']:.3g}"
            lines.append(f"  [{met}] {result['target']}: {value} (limit {result['limit']:g})")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, OS, Python and the versions of the packages that matter here."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
    }


def results_path(directory: Path, now: datetime.datetime | None = None) -> Path:
    """``<directory>/<UTC timestamp>.json``."""
    moment = now or datetime.datetime.now(datetime.UTC)
    return directory / f"{moment:%Y%m%dT%H%M%SZ}.json"


def write_results(report: Report, directory: Path, settings: dict[str, Any], seconds: float) -> Path:
    """Write every figure, the targets and the machine to ``<directory>/<UTC timestamp>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    path = results_path(directory, now)
    document = {
        "timestamp": now.isoformat(timespec="seconds"),
        "duration_seconds": round(seconds, 1),
        "machine": machine_info(),
        "settings": settings,
        "figures": [f.as_dict() for f in report.figures],
        "targets": report.evaluated_targets(),
        "notes": report.notes,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
