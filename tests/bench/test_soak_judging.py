"""How the soak judges a run: growth of a sample series, and a subscriber's account of sequence ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import yaml
from google.protobuf import struct_pb2

from bench.hostile import TOTAL_MAX_BYTES, VALUE_MAX_BYTES, alias_bomb, near_limit_text, over_total_values
from bench.soak import growth
from bench.soak_subscriber import SubscriberAccount, view_digest
from pkg.proto.gen.datadog.model.v1 import configstream_pb2


def _samples(values: Sequence[float], series: str = "rss_kib") -> list[dict[str, float]]:
    return [{"t": float(t), series: v} for t, v in enumerate(values)]


def test_a_flat_series_after_the_warm_up_does_not_grow() -> None:
    # Warm-up (t < 5) may climb; afterwards the peaks stay level.
    samples = _samples([10, 50, 90, 100, 100, *([100_000, 101_000, 100_500] * 5)])
    judged = growth(samples, "rss_kib", warmup=5)
    assert judged is not None
    assert not judged.grew
    assert judged.first_max == 101_000


def test_a_series_that_keeps_climbing_grows() -> None:
    samples = _samples([100_000 + 5_000 * i for i in range(30)])
    judged = growth(samples, "rss_kib", warmup=0)
    assert judged is not None and judged.grew
    assert judged.allowed == pytest.approx(max(judged.first_max * 0.10, 16 * 1024))


def test_fds_have_an_absolute_tolerance() -> None:
    within = growth(_samples([20] * 10 + [36] * 10, "fds"), "fds", warmup=0)
    beyond = growth(_samples([20] * 10 + [37] * 10, "fds"), "fds", warmup=0)
    assert within is not None and not within.grew
    assert beyond is not None and beyond.grew


def test_too_few_samples_are_not_judged() -> None:
    assert growth(_samples([1, 2, 3, 4, 5, 6, 7]), "rss_kib", warmup=2) is None


def _update(seq: int, key: str, value: str | None, source: str = "agent-runtime") -> Any:
    setting = configstream_pb2.ConfigSetting(key=key, source=source if value is not None else "")
    if value is not None:
        setting.value.string_value = value
    else:
        setting.value.null_value = struct_pb2.NULL_VALUE
        setting.unset_source = source
    update = configstream_pb2.ConfigUpdate(sequence_id=seq, setting=setting)
    return configstream_pb2.ConfigEvent(update=update)


def _snapshot(seq: int, **values: str) -> Any:
    settings = []
    for key, value in sorted(values.items()):
        setting = configstream_pb2.ConfigSetting(key=key, source="file")
        setting.value.string_value = value
        settings.append(setting)
    return configstream_pb2.ConfigEvent(
        snapshot=configstream_pb2.ConfigSnapshot(sequence_id=seq, settings=settings)
    )


def test_the_account_builds_the_view_and_finds_gaps_and_going_back() -> None:
    account = SubscriberAccount("s")
    account.apply(_snapshot(10, a="1", b="2"))
    account.apply(_update(11, "a", "3"))
    account.apply(_update(12, "b", None))
    assert account.view == {"a": ("3", "agent-runtime")}
    assert not account.gaps and not account.backwards

    account.apply(_update(14, "c", "x"))  # 13 never came
    assert account.gaps == ["update 14 after 12"]
    account.apply(_snapshot(9, a="1"))  # a snapshot older than what was seen
    assert account.backwards == ["snapshot 9 after 14"]
    report = account.report()
    assert (report["gaps"], report["backwards"], report["seq"]) == (1, 1, 9)


def test_a_resync_snapshot_after_a_lag_is_no_loss() -> None:
    account = SubscriberAccount("s")
    account.apply(_snapshot(1, a="1"))
    account.apply(_snapshot(500, a="2"))
    account.apply(_update(501, "a", "3"))
    assert not account.gaps and not account.backwards
    assert view_digest(account.view) == view_digest({"a": ("3", "agent-runtime")})
    assert view_digest(account.view) != view_digest({"a": ("3", "file")})


def test_the_hostile_values_are_what_they_claim() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 400
    expanded = yaml.load(bomb, Loader=yaml.SafeLoader)["l5"]  # PyYAML's own loader expands aliases
    assert len(expanded) == 10 and len(expanded[0][0][0][0]) == 10  # 10**5 leaves once expanded
    assert len(near_limit_text("m", 4096).encode()) == VALUE_MAX_BYTES - 4096
    over = over_total_values("k")
    assert all(len(v) < VALUE_MAX_BYTES for v in over.values())
    assert sum(len(v) for v in over.values()) > TOTAL_MAX_BYTES
