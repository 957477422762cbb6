"""Merging remote agents' Prometheus text into the core agent's metrics.

Each remote agent's text is parsed, every series gets the label ``emitter="<sanitized display
name>"`` (replacing any ``emitter`` the agent set: the registered identity wins), and the families of
all agents are merged by name. Summaries are dropped (their quantiles cannot be added up), as is a
family whose type differs from the one the same name already has, and the whole text of an agent
when it does not parse; each drop is returned as a warning naming the agent and the family. Series
that collide (same name and labels after relabelling) are summed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["EMITTER_LABEL", "MAX_TEXT_BYTES", "MergedMetrics", "render"]

EMITTER_LABEL = "emitter"
MAX_TEXT_BYTES = 16 * 1024 * 1024
_KEPT_TYPES = frozenset({"counter", "gauge", "histogram", "unknown", "untyped"})

_SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class _Family:
    name: str
    type: str
    documentation: str
    unit: str
    samples: dict[_SeriesKey, float] = field(default_factory=dict)


class MergedMetrics:
    """Accumulates the families of several emitters; :meth:`families` gives the merged result."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self.warnings: list[str] = []

    def add_text(self, emitter: str, text: str) -> None:
        """Add one emitter's Prometheus text; what is dropped is recorded in :attr:`warnings`."""
        if len(text) > MAX_TEXT_BYTES:
            self.warnings.append(
                f"metrics of {emitter!r} dropped: {len(text)} characters, more than {MAX_TEXT_BYTES}"
            )
            return
        try:
            parsed = list(text_string_to_metric_families(text))
        except Exception as exc:  # the parser raises ValueError, IndexError, ... on bad text
            self.warnings.append(f"metrics of {emitter!r} dropped: unparseable Prometheus text: {exc}")
            return
        staged: dict[str, _Family] = {}
        for family in parsed:
            if family.type not in _KEPT_TYPES:
                self.warnings.append(f"metric {family.name!r} of {emitter!r} dropped: type {family.type}")
                continue
            kind = "unknown" if family.type == "untyped" else family.type
            known = self._families.get(family.name) or staged.get(family.name)
            if known is not None and known.type != kind:
                self.warnings.append(
                    f"metric {family.name!r} of {emitter!r} dropped: type {kind}, "
                    f"but another emitter's is {known.type}"
                )
                continue
            target = staged.setdefault(
                family.name, _Family(family.name, kind, family.documentation, family.unit)
            )
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k != EMITTER_LABEL}
                labels[EMITTER_LABEL] = emitter
                key = (sample.name, tuple(sorted(labels.items())))
                target.samples[key] = target.samples.get(key, 0.0) + sample.value
        for name, fresh in staged.items():
            merged = self._families.get(name)
            if merged is None:
                self._families[name] = fresh
                continue
            for key, value in fresh.samples.items():
                merged.samples[key] = merged.samples.get(key, 0.0) + value

    def families(self) -> list[Metric]:
        """The merged families, as prometheus_client metrics (sorted by name)."""
        result = []
        for name in sorted(self._families):
            family = self._families[name]
            metric = Metric(family.name, family.documentation, family.type, family.unit)
            for (sample_name, labels), value in family.samples.items():
                metric.samples.append(Sample(sample_name, dict(labels), value))
            result.append(metric)
        return result


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def render(families: Iterable[Metric]) -> str:
    """Prometheus text of ``families``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode("utf-8")
