"""The text the client prints: event headers, ``key = value (source: s)`` lines and the summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config_stream_client.accounting import StreamTally
from pkg.scrub import scrub_setting
from pkg.util.display import format_value

__all__ = [
    "SettingView",
    "format_setting",
    "snapshot_lines",
    "summary_lines",
    "update_lines",
]


@dataclass(frozen=True, slots=True)
class SettingView:
    """One setting of an event, its value already converted from ``google.protobuf.Value``."""

    key: str
    value: Any
    source: str
    unset_source: str = ""


def format_setting(setting: SettingView) -> str:
    """``  key = value (source: s)``, with ``, unset_source: u`` when the event is an unset.

    Secrets and URL credentials are masked by pkg.scrub's rules."""
    text = format_value(scrub_setting(setting.key, setting.value)[0])
    origin = f"source: {setting.source or 'none'}"
    if setting.unset_source:
        origin += f", unset_source: {setting.unset_source}"
    return f"  {setting.key} = {text} ({origin})"


def snapshot_lines(sequence_id: int, settings: Sequence[SettingView], max_samples: int) -> list[str]:
    """The snapshot header and up to ``max_samples`` settings, in key order."""
    lines = [f"SNAPSHOT received (seq_id={sequence_id}, settings={len(settings)})"]
    shown = sorted(settings, key=lambda s: s.key)[: max(max_samples, 0)]
    lines.extend(format_setting(s) for s in shown)
    if len(settings) > len(shown):
        lines.append(f"  ... and {len(settings) - len(shown)} more")
    return lines


def update_lines(number: int, sequence_id: int, setting: SettingView) -> list[str]:
    """``UPDATE #k received (seq_id=N)`` and the changed setting."""
    return [f"UPDATE #{number} received (seq_id={sequence_id})", format_setting(setting)]


def summary_lines(tally: StreamTally, elapsed_seconds: float) -> list[str]:
    """The closing report: counts, the last sequence id and the verdict."""
    last = "none" if tally.last_sequence_id is None else str(tally.last_sequence_id)
    verdict = "OK" if tally.healthy else "FAILED: " + "; ".join(tally.failure_reasons())
    return [
        "--- summary ---",
        f"duration:      {elapsed_seconds:.1f}s",
        f"snapshots:     {tally.snapshots}",
        f"updates:       {tally.updates}",
        *([f"batches:       {tally.batches}"] if tally.batches else []),
        *([f"progress:      {tally.progress}"] if tally.progress else []),
        f"gaps:          {tally.gaps}",
        f"out-of-order:  {tally.out_of_order}",
        f"last seq id:   {last}",
        f"result:        {verdict}",
    ]
