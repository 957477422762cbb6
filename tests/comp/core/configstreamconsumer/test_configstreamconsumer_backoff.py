"""Backoff delays: growth, cap, jitter from an injected random source, reset after a healthy period."""

from __future__ import annotations

import itertools

import pytest

from comp.core.configstreamconsumer.def_ import BackoffPolicy
from comp.core.configstreamconsumer.impl.backoff import MAX_RECORDED_DELAYS, Backoff


def _fixed(*values: float) -> itertools.cycle[float]:
    return itertools.cycle(values)


def test_delays_grow_by_the_multiplier_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(BackoffPolicy(initial=1.0, multiplier=2.0, cap=10.0, jitter=0.0), lambda: 0.5)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert list(backoff.delays) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.attempt == 6


def test_jitter_takes_up_to_its_fraction_off_each_delay() -> None:
    rand = _fixed(0.0, 0.5, 0.999)
    backoff = Backoff(BackoffPolicy(initial=1.0, multiplier=2.0, cap=100.0, jitter=0.2), lambda: next(rand))
    delays = [backoff.next_delay() for _ in range(3)]
    assert delays == pytest.approx([1.0, 2.0 * 0.9, 4.0 * (1 - 0.2 * 0.999)])


def test_jittered_delays_never_exceed_the_cap_and_still_grow() -> None:
    rand = _fixed(0.0, 0.9, 0.1, 0.7)
    policy = BackoffPolicy(initial=0.1, multiplier=2.0, cap=1.0, jitter=0.3)
    backoff = Backoff(policy, lambda: next(rand))
    delays = [backoff.next_delay() for _ in range(20)]
    assert all(0 < d <= policy.cap for d in delays)
    assert delays[0] < delays[1] < delays[2]
    assert len(set(delays[-4:])) > 1  # jitter at the cap


def test_reset_starts_again_from_the_initial_delay() -> None:
    backoff = Backoff(BackoffPolicy(initial=1.0, multiplier=3.0, cap=50.0, jitter=0.0), lambda: 0.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_only_a_long_enough_healthy_period_resets() -> None:
    backoff = Backoff(BackoffPolicy(initial=1.0, cap=50.0, jitter=0.0, healthy_reset=30.0), lambda: 0.0)
    backoff.next_delay()
    backoff.note_healthy_for(29.9)
    assert backoff.next_delay() == 2.0
    backoff.note_healthy_for(30.0)
    assert backoff.next_delay() == 1.0


def test_a_huge_multiplier_saturates_at_the_cap() -> None:
    backoff = Backoff(BackoffPolicy(initial=1.0, multiplier=1e300, cap=5.0, jitter=0.0), lambda: 0.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 5.0, 5.0, 5.0, 5.0]


def test_recorded_delays_are_bounded() -> None:
    backoff = Backoff(BackoffPolicy(jitter=0.0), lambda: 0.0)
    for _ in range(MAX_RECORDED_DELAYS + 5):
        backoff.next_delay()
    assert len(backoff.delays) == MAX_RECORDED_DELAYS


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"initial": 0}, "initial"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"initial": 2.0, "cap": 1.0}, "cap"),
        ({"jitter": 1.0}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"healthy_reset": -1}, "healthy_reset"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_setting(kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        BackoffPolicy(**kwargs)
