"""Batches, consumer side, against a scripted core (real grpc.aio server, real mTLS): asked for by
default, applied as one view change, reported one change at a time in order, and a batch with a gap
or out of order applied not at all and resynchronised like any gap."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from comp.core.configstreamconsumer.def_ import DEFAULT_MAX_BATCH_UPDATES, ChangeEvent, Params
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.configstreamconsumer.impl.view import ViewHolder
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import Setting
from pkg.config.sources import Source
from pkg.ipc import ClientMaterial
from pkg.util.lifecycle import Lifecycle
from tests.support import wire
from tests.support.polling import eventually

Core = Any
Make = Any
WAIT = 10.0
RUNTIME = Source.AGENT_RUNTIME


async def _ready(make: Make, core: Core, settings: dict[str, Any], seq: int = 5, **kw: Any) -> Any:
    built = await make(core.address, **kw)
    stream = await core.next_stream()
    stream.push(wire.snapshot(seq, settings, epoch="e1"))
    await built.consumer.wait_ready(WAIT)
    return built, stream


async def test_the_request_asks_for_batches_and_progress_by_default(core: Core, make_consumer: Make) -> None:
    await make_consumer(core.address)
    stream = await core.next_stream()
    assert stream.max_batch_updates == DEFAULT_MAX_BATCH_UPDATES == 256
    assert stream.progress is True
    assert stream.key_filter is None  # no filter asked: every key


async def test_with_the_extensions_off_the_request_is_the_plain_one(core: Core, make_consumer: Make) -> None:
    await make_consumer(core.address, max_batch_updates=0, progress=False)
    stream = await core.next_stream()
    fields = {descriptor.name for descriptor, _ in stream.request.ListFields()}
    assert fields == {"name", "resume_from"}


async def test_a_batch_is_one_view_change_reported_change_by_change(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1, "b": 1})
    consumer = built.consumer
    changes = consumer.subscribe()
    seen_at_first_change: dict[str, Any] = {}
    stream.push(
        wire.batch(
            wire.update(6, "a", 2),
            wire.update(7, "b", 2),
            wire.update(8, "a", 3),
            wire.update(9, "b", 2),  # no change: no event, the id still counts
            wire.update(10, "c", None, source="", unset_source="file"),  # absent already: no event
        )
    )
    first = await asyncio.wait_for(anext(changes), WAIT)
    reader = consumer.reader()
    seen_at_first_change.update(a=reader.get("a"), b=reader.get("b"), seq=consumer.sequence_id)
    rest = [await asyncio.wait_for(anext(changes), WAIT) for _ in range(2)]
    assert [first, *rest] == [
        ChangeEvent("a", 1, 2, RUNTIME),
        ChangeEvent("b", 1, 2, RUNTIME),
        ChangeEvent("a", 2, 3, RUNTIME),
    ]
    # When the first change is told, the whole batch is already in the view.
    assert seen_at_first_change == {"a": 3, "b": 2, "seq": 10}
    stats = consumer.stats
    assert (stats.batches, stats.updates, stats.gaps) == (1, 5, 0)
    assert built.telemetry.value("configstream_consumer.batches") == 1
    assert built.telemetry.value("configstream_consumer.last_sequence_id") == 10


async def test_a_batch_and_single_updates_mix_in_order(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1})
    changes = built.consumer.subscribe(keys=["a"])
    stream.push(wire.update(6, "a", 2), wire.batch(wire.update(7, "a", 3), wire.update(8, "a", 4)))
    stream.push(wire.update(9, "a", 5))
    got = [(await asyncio.wait_for(anext(changes), WAIT)).new for _ in range(4)]
    assert got == [2, 3, 4, 5]
    assert built.consumer.sequence_id == 9


async def test_a_batch_with_a_gap_applies_nothing_and_resyncs(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1, "b": 1})
    consumer = built.consumer
    stream.push(wire.batch(wire.update(6, "a", 2), wire.update(8, "b", 2)))
    again = await core.next_stream()
    assert again.resume_from == ("", 0)  # after a gap the next stream asks for a snapshot
    assert (consumer.reader().get("a"), consumer.reader().get("b"), consumer.sequence_id) == (1, 1, 5)
    assert consumer.stats.gaps == 1
    assert "expected update 7, received 8" in (consumer.stats.last_error or "")
    again.push(wire.snapshot(8, {"a": 2, "b": 2}, epoch="e1"))
    await eventually(lambda: consumer.sequence_id == 8, "the resync snapshot applied")


async def test_a_batch_out_of_order_is_a_gap(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1})
    stream.push(wire.batch(wire.update(7, "a", 2), wire.update(6, "a", 3)))
    await core.next_stream()
    assert built.consumer.stats.gaps == 1
    assert built.consumer.reader().get("a") == 1


async def test_stale_updates_at_the_head_of_a_batch_are_dropped(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, {"a": 1})
    changes = built.consumer.subscribe()
    stream.push(wire.batch(wire.update(4, "a", 0), wire.update(5, "a", 9), wire.update(6, "a", 2)))
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("a", 1, 2, RUNTIME)
    stats = built.consumer.stats
    assert (stats.stale_events_dropped, stats.updates, stats.gaps) == (2, 1, 0)


def test_apply_many_swaps_the_view_once_and_tells_each_change() -> None:
    holder = ViewHolder()
    holder.replace({"a": Setting(1, Source.FILE)}, 1)
    before = holder.view
    events = holder.apply_many(
        [("a", Setting(2, RUNTIME)), ("b", Setting(1, RUNTIME)), ("a", None), ("a", None)], 4
    )
    assert events == [
        ChangeEvent("a", 1, 2, RUNTIME),
        ChangeEvent("b", None, 1, RUNTIME),
        ChangeEvent("a", 2, None, None),
    ]
    assert dict(before) == {"a": Setting(1, Source.FILE)}  # the old view was never touched
    assert dict(holder.view) == {"b": Setting(1, RUNTIME)}
    assert holder.sequence_id == 4
    unchanged = holder.view
    assert holder.apply_many([("b", Setting(1, RUNTIME))], 5) == []
    assert holder.view is unchanged and holder.sequence_id == 5


@pytest.mark.parametrize("size", [-1, 2**31])
def test_a_batch_size_out_of_range_is_refused(material: ClientMaterial, size: int) -> None:
    with pytest.raises(ValueError, match=r"max_batch_updates: .*expected 0 \(no batches\) to 2\*\*31 - 1"):
        new_component(
            Requires(
                lifecycle=Lifecycle(),
                telemetry=MockTelemetry(),
                params=Params(material=material, max_batch_updates=size),
            )
        )
