"""The resume extension, consumer side, against a scripted core (real grpc.aio server, real mTLS):
the resume point in each request, resuming from the missed updates, refusals answered with a
snapshot, silent resumes, a core without the extension, and gaps on a resumed stream."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer.def_ import ChangeEvent, ConsumerState
from pkg.config.sources import Source
from tests.support import wire
from tests.support.fake_core import answer_resume
from tests.support.polling import eventually

Core = Any
Make = Any
WAIT = 10.0
SLOW = 60.0
"""A quiet period no test reaches: the stream waits for its first event."""


async def _ready_with_epoch(
    make: Make,
    core: Core,
    settings: dict[str, Any],
    *,
    seq: int = 5,
    epoch: str = "e1",
    **kw: Any,
) -> Any:
    """A consumer that applied a snapshot of ``settings`` carrying ``epoch``; returns (built, stream)."""
    built = await make(core.address, **kw)
    stream = await core.next_stream()
    stream.push(wire.snapshot(seq, settings, epoch=epoch))
    await built.consumer.wait_ready(WAIT)
    return built, stream


async def _reconnect(core: Core, stream: Any) -> Any:
    """End ``stream`` as a core that goes away would; the consumer's next stream."""
    stream.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
    return await core.next_stream()


async def test_the_first_request_asks_for_the_epoch_and_the_snapshot_epoch_is_kept(
    core: Core, make_consumer: Make
) -> None:
    built = await make_consumer(core.address)
    stream = await core.next_stream()
    assert stream.resume_from == ("", 0)  # "I speak the extension": the field is present, epoch empty
    stream.push(wire.snapshot(5, {"a": 1}, epoch="e1"))
    await built.consumer.wait_ready(WAIT)
    stats = built.consumer.stats
    assert (stats.epoch, stats.snapshots, stats.resumes, stats.resumes_refused) == ("e1", 1, 0, 0)


async def test_a_reconnect_resumes_from_the_missed_updates_without_a_snapshot(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1, "b": 1}, resume_quiet_period=SLOW)
    consumer = built.consumer
    changes = consumer.subscribe()
    second = await _reconnect(core, first)
    assert second.resume_from == ("e1", 5)
    assert second.session_id == first.session_id
    assert consumer.state == ConsumerState.CONNECTING  # until the first event of the resumed stream
    history = [
        wire.update(6, "a", 2),
        wire.update(7, "b", None, source="", unset_source="file"),
        wire.update(8, "c", 3),
    ]
    current = wire.snapshot(8, {"a": 2, "c": 3})
    assert answer_resume(second, epoch="e1", current=current, history=history)
    got = [await asyncio.wait_for(anext(changes), WAIT) for _ in range(3)]
    assert got == [
        ChangeEvent("a", 1, 2, Source.AGENT_RUNTIME),
        ChangeEvent("b", 1, None, None),
        ChangeEvent("c", None, 3, Source.AGENT_RUNTIME),
    ]
    assert consumer.state == ConsumerState.READY and consumer.sequence_id == 8
    assert consumer.reader().all_settings() == {"a": 2, "c": 3}
    stats = consumer.stats
    assert (stats.snapshots, stats.resumes, stats.resumes_refused, stats.gaps) == (1, 1, 0, 0)
    assert (stats.updates, stats.epoch) == (3, "e1")
    assert built.telemetry.value("configstream_consumer.resumes") == 1
    assert built.telemetry.value("configstream_consumer.snapshots") == 1
    second.push(wire.update(9, "a", 4))  # then live updates, on the same stream
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("a", 2, 4, Source.AGENT_RUNTIME)
    third = await _reconnect(core, second)
    assert third.resume_from == ("e1", 9)


async def test_a_refused_resume_is_answered_with_a_snapshot_applied_as_usual(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1, "b": 1}, seq=500)
    consumer = built.consumer
    changes = consumer.subscribe()
    second = await _reconnect(core, first)
    assert second.resume_from == ("e1", 500)
    # A restarted core: a new epoch, a new sequence id space.
    assert not answer_resume(second, epoch="e2", current=wire.snapshot(3, {"a": 1, "b": 2}))
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("b", 1, 2, Source.FILE)
    stats = consumer.stats
    assert (stats.snapshots, stats.resumes, stats.resumes_refused, stats.epoch) == (2, 0, 1, "e2")
    assert consumer.sequence_id == 3
    assert built.telemetry.value("configstream_consumer.resumes_refused") == 1
    third = await _reconnect(core, second)
    assert third.resume_from == ("e2", 3)


async def test_a_resume_the_history_cannot_serve_gets_a_snapshot(core: Core, make_consumer: Make) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1})
    second = await _reconnect(core, first)
    history = [wire.update(9, "a", 5), wire.update(10, "a", 6)]  # 6 to 8 are no longer held
    assert not answer_resume(second, epoch="e1", current=wire.snapshot(10, {"a": 6}), history=history)
    await eventually(lambda: built.consumer.sequence_id == 10, "the snapshot applied")
    assert built.consumer.reader().get_int("a") == 6
    assert (built.consumer.stats.resumes_refused, built.consumer.stats.epoch) == (1, "e1")


async def test_a_silent_resumed_stream_is_live_after_the_quiet_period(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1}, resume_quiet_period=0.05)
    consumer = built.consumer
    changes = consumer.subscribe()
    second = await _reconnect(core, first)
    assert answer_resume(second, epoch="e1", current=wire.snapshot(5, {"a": 1}))  # nothing missed
    await eventually(lambda: consumer.state == ConsumerState.READY, "ready without any event")
    assert (consumer.stats.resumes, consumer.stats.snapshots) == (1, 1)
    second.push(wire.update(6, "a", 2))
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("a", 1, 2, Source.AGENT_RUNTIME)
    # A snapshot that comes anyway (a slow core that refused after all) still replaces the view.
    second.push(wire.snapshot(9, {"a": 3}, epoch="e1"))
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("a", 2, 3, Source.FILE)
    assert consumer.stats.gaps == 0 and consumer.sequence_id == 9


async def test_resuming_survives_registering_again(core: Core, make_consumer: Make) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1})
    core.sessions.clear()  # evicted: the epoch still names the core's sequence ids
    first.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{first.session_id}' not found")
    second = await core.next_stream()
    assert second.session_id != first.session_id and second.resume_from == ("e1", 5)
    history = [wire.update(6, "a", 2)]
    assert answer_resume(second, epoch="e1", current=wire.snapshot(6, {"a": 2}), history=history)
    await eventually(lambda: built.consumer.sequence_id == 6, "the missed update applied")
    stats = built.consumer.stats
    assert (stats.registrations, stats.snapshots, stats.resumes) == (2, 1, 1)


async def test_a_core_without_the_extension_gets_an_empty_epoch_every_time(
    core: Core, make_consumer: Make
) -> None:
    built = await make_consumer(core.address)
    consumer = built.consumer
    first = await core.next_stream()
    first.push(wire.snapshot(5, {"a": 1}))  # the Go agent: no epoch
    await consumer.wait_ready(WAIT)
    second = await _reconnect(core, first)
    assert second.resume_from == ("", 0)
    second.push(wire.update(6, "a", 2))  # not a resume: we did not ask for one
    await asyncio.wait_for(second.ended.wait(), WAIT)
    third = await core.next_stream()
    assert third.resume_from == ("", 0)
    third.push(wire.snapshot(6, {"a": 2}))
    await eventually(lambda: consumer.sequence_id == 6, "the snapshot applied")
    stats = consumer.stats
    assert (stats.gaps, stats.resumes, stats.resumes_refused, stats.epoch) == (1, 0, 0, "")
    assert "update 6 received before any snapshot" in (stats.last_error or "")


async def test_a_snapshot_without_epoch_forgets_the_stored_one(core: Core, make_consumer: Make) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1})
    second = await _reconnect(core, first)
    assert second.resume_from == ("e1", 5)
    second.push(wire.snapshot(2, {"a": 2}))  # the core was replaced by one without the extension
    await eventually(lambda: built.consumer.sequence_id == 2, "the snapshot applied")
    assert (built.consumer.stats.epoch, built.consumer.stats.resumes_refused) == ("", 1)
    third = await _reconnect(core, second)
    assert third.resume_from == ("", 0)


@pytest.mark.parametrize("first_id", [7, 5, 4])
async def test_a_first_update_that_does_not_follow_is_a_gap_and_the_next_stream_asks_for_a_snapshot(
    core: Core, make_consumer: Make, first_id: int
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1}, resume_quiet_period=SLOW)
    consumer = built.consumer
    second = await _reconnect(core, first)
    second.push(wire.update(first_id, "a", 99))
    await asyncio.wait_for(second.ended.wait(), WAIT)
    third = await core.next_stream()
    assert third.resume_from == ("", 0)
    assert consumer.reader().get_int("a") == 1 and consumer.sequence_id == 5  # not applied
    stats = consumer.stats
    assert (stats.gaps, stats.resumes, stats.epoch) == (1, 0, "")
    assert f"resuming after update 5: expected update 6, received {first_id}" in (stats.last_error or "")
    third.push(wire.snapshot(8, {"a": 2}, epoch="e1"))
    await eventually(lambda: consumer.sequence_id == 8, "the resync snapshot applied")
    assert consumer.stats.epoch == "e1" and consumer.stats.resumes_refused == 0


async def test_a_gap_on_a_resumed_stream_asks_for_a_snapshot_next(core: Core, make_consumer: Make) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1})
    second = await _reconnect(core, first)
    second.push(wire.update(6, "a", 2), wire.update(8, "a", 3))  # resumed, then 7 is missing
    await asyncio.wait_for(second.ended.wait(), WAIT)
    third = await core.next_stream()
    assert third.resume_from == ("", 0)
    stats = built.consumer.stats
    assert (stats.resumes, stats.gaps, built.consumer.sequence_id) == (1, 1, 6)


QUIET = 30.0
"""A quiet period far beyond the waits below: readiness can only come from the core's headers."""


async def test_an_accepted_header_makes_a_silent_resumed_stream_live_without_the_timer(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1}, resume_quiet_period=QUIET)
    consumer = built.consumer
    changes = consumer.subscribe()
    second = await _reconnect(core, first)
    assert second.resume_from == ("e1", 5)
    # Nothing missed: the core sends its answer in the headers and no event at all.
    assert answer_resume(second, epoch="e1", current=wire.snapshot(5, {"a": 1}), headers=True)
    await eventually(lambda: consumer.state == ConsumerState.READY, "ready from the header", timeout=3.0)
    stats = consumer.stats
    assert (stats.resumes, stats.snapshots, stats.resumes_refused, stats.epoch) == (1, 1, 0, "e1")
    second.push(wire.update(6, "a", 2))
    assert await asyncio.wait_for(anext(changes), WAIT) == ChangeEvent("a", 1, 2, Source.AGENT_RUNTIME)
    assert consumer.stats.resumes == 1


async def test_an_accepted_header_then_the_missed_updates_counts_one_resume(
    core: Core, make_consumer: Make
) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1}, resume_quiet_period=QUIET)
    second = await _reconnect(core, first)
    history = [wire.update(6, "a", 2), wire.update(7, "a", 3)]
    current = wire.snapshot(7, {"a": 3})
    assert answer_resume(second, epoch="e1", current=current, history=history, headers=True)
    await eventually(lambda: built.consumer.sequence_id == 7, "the missed updates applied")
    stats = built.consumer.stats
    assert (stats.resumes, stats.snapshots, stats.gaps, built.consumer.reader().get_int("a")) == (1, 1, 0, 3)


async def test_a_refused_header_waits_for_the_snapshot(core: Core, make_consumer: Make) -> None:
    built, first = await _ready_with_epoch(make_consumer, core, {"a": 1}, resume_quiet_period=QUIET)
    consumer = built.consumer
    second = await _reconnect(core, first)
    second.send_headers(("configstream-epoch", "e2"), ("configstream-resume", "refused"))
    second.push(wire.snapshot(3, {"a": 7}, epoch="e2"))
    await eventually(lambda: consumer.sequence_id == 3, "the snapshot applied")
    assert consumer.state == ConsumerState.READY
    stats = consumer.stats
    assert (stats.resumes, stats.resumes_refused, stats.snapshots, stats.epoch) == (0, 1, 2, "e2")


async def test_a_none_header_on_the_first_stream_is_followed_by_the_snapshot(
    core: Core, make_consumer: Make
) -> None:
    built = await make_consumer(core.address, resume_quiet_period=QUIET)
    stream = await core.next_stream()
    assert not answer_resume(stream, epoch="e1", current=wire.snapshot(4, {"a": 1}), headers=True)
    await built.consumer.wait_ready(WAIT)
    stats = built.consumer.stats
    assert (stats.resumes, stats.resumes_refused, stats.snapshots, stats.epoch) == (0, 0, 1, "e1")
