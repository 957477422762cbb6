"""One family per name in ``/metrics``.

Several collectors share the registry the endpoint serves: the OpenTelemetry reader, the process
collectors, and the remote agents' series relayed with an ``emitter`` label. Two of them may yield
families of one exposed name (a remote agent's ``process_cpu_seconds_total`` beside the core's own),
which the text format allows only once: one ``HELP`` and one ``TYPE`` line, its series together.

:func:`merge_families` keeps the first family of each exposed name (its help and unit) and appends
the series of the later ones of the same type. A later family is left out when its type differs, or
when one of its series names belongs to another family (a gauge ``x_count`` beside a histogram
``x``); a series already given (same name and labels) is left out too. Each is reported as a
:class:`DroppedFamily` naming the family and the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["DroppedFamily", "MergedFamilies", "exposed_name", "merge_families"]

_TYPE_AS_EXPOSED = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


@dataclass(frozen=True)
class DroppedFamily:
    """A family, or some of its series, left out of one scrape."""

    name: str
    """The exposed name (``process_cpu_seconds_total``)."""
    reason: str


def exposed_name(family: Metric) -> str:
    """The name of ``family``'s ``HELP`` and ``TYPE`` lines in the Prometheus text format."""
    if family.type == "counter":
        return family.name + "_total"
    if family.type == "info":
        return family.name + "_info"
    return family.name


def _exposed_type(family: Metric) -> str:
    return _TYPE_AS_EXPOSED.get(family.type, family.type)


def merge_families(families: Iterable[Metric]) -> tuple[list[Metric], list[DroppedFamily]]:
    """``families`` with one family per exposed name, in the order of their first appearance, and
    what was left out."""
    merged: dict[str, Metric] = {}
    owners: dict[str, str] = {}  # series name -> exposed name of its family
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    dropped: list[DroppedFamily] = []
    for family in families:
        name = exposed_name(family)
        first = merged.get(name)
        if first is not None and _exposed_type(first) != _exposed_type(family):
            reason = (
                f"type {_exposed_type(family)}, but the first family of this name is a {_exposed_type(first)}"
            )
            dropped.append(DroppedFamily(name, reason))
            continue
        taken = sorted({s.name for s in family.samples if owners.get(s.name, name) != name})
        if taken:
            reason = f"series {taken[0]!r} belongs to the family {owners[taken[0]]!r}"
            dropped.append(DroppedFamily(name, reason))
            continue
        samples: list[Sample] = []
        duplicates = 0
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            owners[sample.name] = name
            samples.append(sample)
        if duplicates:
            dropped.append(DroppedFamily(name, f"{duplicates} series given twice (same name and labels)"))
        if first is None:
            merged[name] = family if len(samples) == len(family.samples) else _with_samples(family, samples)
        else:
            merged[name] = _with_samples(first, [*first.samples, *samples])
    return list(merged.values()), dropped


def _with_samples(family: Metric, samples: list[Sample]) -> Metric:
    copied = copy.copy(family)
    copied.samples = samples
    return copied


class MergedFamilies(Collector):
    """Collects ``source`` through :func:`merge_families`, reporting each drop to ``on_drop``."""

    def __init__(self, source: Collector, on_drop: Callable[[DroppedFamily], None]) -> None:
        self._source = source
        self._on_drop = on_drop

    def collect(self) -> Iterable[Metric]:
        families, dropped = merge_families(self._source.collect())
        for drop in dropped:
            self._on_drop(drop)
        return families
