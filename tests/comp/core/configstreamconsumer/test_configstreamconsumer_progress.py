"""Progress events, consumer side: a sign of life that moves the position, lost updates found by it,
liveness exposed, and a stream that stopped sending events reconnected (resuming). The stall rule is
checked with a fake clock; the consumer against a scripted core (real grpc.aio server, real mTLS)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer.def_ import Params
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.configstreamconsumer.impl.liveness import MIN_STALL_TIMEOUT, PROGRESS_WINDOW, ProgressWatch
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import ClientMaterial
from pkg.util.lifecycle import Lifecycle
from tests.support import wire
from tests.support.polling import eventually

Core = Any
Make = Any
WAIT = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _ready(make: Make, core: Core, seq: int = 5, **kw: Any) -> Any:
    built = await make(core.address, **kw)
    stream = await core.next_stream()
    stream.push(wire.snapshot(seq, {"a": 1}, epoch="e1"))
    await built.consumer.wait_ready(WAIT)
    return built, stream


def test_the_stall_timeout_is_a_multiple_of_the_longest_recent_silence_before_progress() -> None:
    clock = FakeClock()
    watch = ProgressWatch(clock, multiple=3.0)
    watch.new_stream()
    assert (watch.stall_deadline(), watch.liveness().stall_timeout) == (None, None)  # not armed
    clock.now = 101.0
    watch.event()  # the snapshot
    assert watch.stall_deadline() is None  # events alone never arm it
    clock.now = 111.0
    watch.event(progress=True)  # 10 s of silence, then progress
    assert (watch.progress_interval, watch.stall_timeout, watch.stall_deadline()) == (10.0, 30.0, 141.0)
    clock.now = 112.0
    watch.event()  # an update
    clock.now = 112.5
    watch.event(progress=True)  # progress soon after an update: does not shorten the timeout
    assert watch.stall_timeout == 30.0 and watch.stall_deadline() == 142.5
    for _ in range(PROGRESS_WINDOW):
        clock.now += 4.0
        watch.event(progress=True)
    assert watch.stall_timeout == 12.0  # the 10 s silence left the window
    liveness = watch.liveness()
    assert (liveness.last_event_at, liveness.last_progress_at) == (clock.now, clock.now)
    watch.new_stream()  # a new stream is not judged until it sends progress
    assert watch.stall_deadline() is None and watch.liveness().last_event_at == clock.now


def test_the_stall_timeout_has_a_floor() -> None:
    clock = FakeClock()
    watch = ProgressWatch(clock, multiple=3.0)
    watch.new_stream()
    clock.now += 0.01
    watch.event(progress=True)
    assert watch.stall_timeout == MIN_STALL_TIMEOUT == 1.0


def test_a_zero_multiple_turns_stall_detection_off() -> None:
    clock = FakeClock()
    watch = ProgressWatch(clock, multiple=0)
    watch.new_stream()
    clock.now += 1
    watch.event(progress=True)
    assert watch.progress_interval == 1.0
    assert (watch.stall_timeout, watch.stall_deadline()) == (None, None)


@pytest.mark.parametrize("multiple", [-1.0, 1.0, 1.4])
def test_a_stall_multiple_below_the_jitter_is_refused(material: ClientMaterial, multiple: float) -> None:
    with pytest.raises(ValueError, match=r"stall_multiple: .*expected 0 \(off\) or at least 1.5"):
        new_component(
            Requires(
                lifecycle=Lifecycle(),
                telemetry=MockTelemetry(),
                params=Params(material=material, stall_multiple=multiple),
            )
        )


async def test_progress_at_the_last_id_is_a_sign_of_life(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core, stall_multiple=0)
    consumer = built.consumer
    assert consumer.liveness.last_progress_at is None
    snapshot_at = consumer.liveness.last_event_at
    assert snapshot_at is not None
    stream.push(wire.progress(5, epoch="e1"))
    await eventually(lambda: consumer.stats.progress_events == 1, "the progress event counted")
    liveness = consumer.liveness
    assert liveness.last_progress_at is not None and liveness.last_progress_at >= snapshot_at
    assert liveness.last_event_at == liveness.last_progress_at
    assert liveness.progress_interval is not None and liveness.stall_timeout is None  # detection off
    assert (consumer.sequence_id, consumer.stats.gaps) == (5, 0)
    assert built.telemetry.value("configstream_consumer.progress_events") == 1
    stream.push(wire.update(6, "a", 2))
    await eventually(lambda: consumer.reader().get("a") == 2, "the next update applied")


async def test_progress_past_the_last_update_of_an_unfiltered_stream_means_lost_updates(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core)
    stream.push(wire.progress(7, epoch="e1"))
    again = await core.next_stream()
    stats = built.consumer.stats
    assert stats.gaps == 1
    assert "progress at sequence id 7, the last update received was 5: lost updates" in (
        stats.last_error or ""
    )
    assert again.resume_from == ("", 0)


async def test_progress_from_another_epoch_is_a_gap(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core)
    stream.push(wire.progress(5, epoch="e2"))
    await core.next_stream()
    assert built.consumer.stats.gaps == 1


async def test_progress_moves_a_filtered_stream_and_the_next_update_refers_to_it(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core, keys=("a",), stall_multiple=0)
    consumer = built.consumer
    stream.push(wire.progress(40, epoch="e1"))
    await eventually(lambda: consumer.sequence_id == 40, "the position moved to the progress id")
    assert built.telemetry.value("configstream_consumer.last_sequence_id") == 40
    stream.push(wire.update(41, "a", 2, previous=40))
    await eventually(lambda: consumer.reader().get("a") == 2, "the update after the progress applied")
    stream.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
    again = await core.next_stream()
    assert again.resume_from == ("e1", 41)


async def test_a_stream_silent_after_progress_is_reconnected_and_resumed(
    core: Core, make_consumer: Make
) -> None:
    built, stream = await _ready(make_consumer, core)
    # Progress right after the snapshot: the usual silence is a few milliseconds, so the stream is
    # judged stuck after the shortest stall timeout (1 s), as one that stopped sending for good would be.
    stream.push(wire.progress(5, epoch="e1"))
    again = await core.next_stream()
    consumer = built.consumer
    assert consumer.stats.stalls == 1 and consumer.stats.gaps == 0
    assert "sent nothing for" in (consumer.stats.last_error or "")
    assert "the stream is stuck" in (consumer.stats.last_error or "")
    assert again.resume_from == ("e1", 5)
    assert built.telemetry.value("configstream_consumer.stalls") == 1
    assert consumer.reader().get("a") == 1  # the view stays


async def test_a_core_without_progress_is_never_judged(core: Core, make_consumer: Make) -> None:
    built, stream = await _ready(make_consumer, core)
    stream.push(wire.update(6, "a", 2))
    await eventually(lambda: built.consumer.reader().get("a") == 2, "the update applied")
    liveness = built.consumer.liveness
    assert liveness.last_progress_at is None and liveness.stall_timeout is None
    assert built.consumer.stats.stalls == 0
