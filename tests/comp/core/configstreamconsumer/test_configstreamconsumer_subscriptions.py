"""Subscriptions: filtering by keys and prefix, ordering, closing, and coalescing on overflow."""

from __future__ import annotations

import asyncio

import pytest

from comp.core.configstreamconsumer.def_ import ChangeEvent, Subscription
from comp.core.configstreamconsumer.impl.subscriptions import KeyFilter, SubscriptionHub
from pkg.config.sources import Source

F = Source.FILE


def _ev(key: str, old: object, new: object) -> ChangeEvent:
    return ChangeEvent(key, old, new, F)


async def _drain(sub: Subscription) -> list[ChangeEvent]:
    """Every event pending in ``sub`` (it must be closed, so that iteration ends)."""
    return [event async for event in sub]


@pytest.mark.parametrize(
    ("keys", "prefix", "matching", "other"),
    [
        (None, None, ["a", "logs_config.x"], []),
        (["log_level", "api_key"], None, ["log_level", "api_key"], ["log_level.x", "site"]),
        (None, "logs_config.", ["logs_config.enabled", "logs_config.a.b"], ["logs_config", "log_level"]),
        (["site"], "logs_config.", ["site", "logs_config.enabled"], ["hostname"]),
    ],
)
def test_key_filter(
    keys: list[str] | None, prefix: str | None, matching: list[str], other: list[str]
) -> None:
    f = KeyFilter(keys, prefix)
    assert all(f.matches(k) for k in matching)
    assert not any(f.matches(k) for k in other)


def test_keys_given_as_one_string_is_refused() -> None:
    with pytest.raises(TypeError, match="log_level"):
        KeyFilter("log_level", None)


async def test_subscribers_get_their_matching_events_in_order() -> None:
    hub = SubscriptionHub(queue_size=10)
    everything = hub.subscribe()
    logs = hub.subscribe(prefix="logs_config.")
    level = hub.subscribe(keys=["log_level"])
    events = [
        _ev("log_level", "info", "debug"),
        _ev("logs_config.enabled", False, True),
        _ev("site", "a", "b"),
    ]
    hub.publish(events)
    hub.publish([_ev("log_level", "debug", "warn")])
    hub.close()
    assert await _drain(everything) == [*events, _ev("log_level", "debug", "warn")]
    assert await _drain(logs) == [events[1]]
    assert await _drain(level) == [events[0], _ev("log_level", "debug", "warn")]


async def test_a_waiting_subscriber_wakes_up_on_publish_and_on_close() -> None:
    hub = SubscriptionHub(queue_size=10)
    sub = hub.subscribe()
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    assert not waiting.done()
    hub.publish([_ev("a", 1, 2)])
    assert await asyncio.wait_for(waiting, 5) == _ev("a", 1, 2)
    ending = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(ending, 5)


async def test_close_unsubscribes_only_that_subscriber() -> None:
    hub = SubscriptionHub(queue_size=10)
    kept, closed = hub.subscribe(), hub.subscribe()
    hub.publish([_ev("a", 1, 2)])
    closed.close()
    closed.close()  # idempotent
    hub.publish([_ev("a", 2, 3)])
    assert hub.count == 1
    assert await _drain(closed) == [_ev("a", 1, 2)]  # what was pending before close is delivered
    hub.close()
    assert await _drain(kept) == [_ev("a", 1, 2), _ev("a", 2, 3)]


async def test_subscribing_after_the_hub_closed_gives_an_ended_subscription() -> None:
    hub = SubscriptionHub(queue_size=10)
    hub.close()
    assert await _drain(hub.subscribe()) == []
    assert hub.count == 0


async def test_overflow_coalesces_by_key_keeping_the_latest_value_of_every_key() -> None:
    overflows: list[int] = []
    hub = SubscriptionHub(queue_size=2, on_overflow=lambda: overflows.append(1))
    slow = hub.subscribe()
    hub.publish(
        [
            _ev("a", 0, 1),
            _ev("b", 0, 1),  # the queue is full from here
            _ev("a", 1, 2),
            _ev("c", 0, 1),
            _ev("a", 2, 3),
            ChangeEvent("c", 1, None, None),
        ]
    )
    hub.close()
    # Queued events first, then one merged event per key, in the order of each key's last change.
    assert await _drain(slow) == [
        _ev("a", 0, 1),
        _ev("b", 0, 1),
        _ev("a", 1, 3),
        ChangeEvent("c", 0, None, None),
    ]
    assert len(overflows) == 4


async def test_a_subscriber_that_catches_up_gets_a_bounded_queue_again() -> None:
    hub = SubscriptionHub(queue_size=1)
    sub = hub.subscribe()
    hub.publish([_ev("a", 0, 1), _ev("a", 1, 2), _ev("b", 0, 1)])
    assert [await anext(sub) for _ in range(3)] == [_ev("a", 0, 1), _ev("a", 1, 2), _ev("b", 0, 1)]
    hub.publish([_ev("c", 0, 1)])
    hub.close()
    assert await _drain(sub) == [_ev("c", 0, 1)]


async def test_a_slow_subscriber_does_not_hold_back_a_fast_one() -> None:
    hub = SubscriptionHub(queue_size=4)
    slow, fast = hub.subscribe(), hub.subscribe()
    received: list[ChangeEvent] = []
    for i in range(100):
        hub.publish([_ev(f"k{i % 7}", i, i + 1)])
        received.append(await anext(fast))
    assert len(received) == 100
    hub.close()
    pending = await _drain(slow)
    assert len(pending) <= 4 + 7  # the queue plus one merged event per key
    latest = {e.key: e.new for e in received}
    assert {e.key: e.new for e in pending} == latest


def test_a_queue_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="queue size"):
        SubscriptionHub(queue_size=0)
