"""A stateful property test over a real core agent (hypothesis ``RuleBasedStateMachine``).

Each example starts a real ``core-agent`` process on loopback (real mTLS, a small stream queue and
history, a 1 s registry idle timeout) with four consumers: two instances of the consumer library
(``comp/core/configstreamconsumer``), each behind a TCP relay, and two raw stream clients, one of them
on a narrow receive window. The rules change the config through the real ``Settings`` gRPC API (single
sets, bulk sets, unsets, values just under the 1 MiB value limit, values of the wrong type), pause and
resume the narrow reader, cut connections, let a raw client's session be evicted, and restart the core
(a new epoch). A model of the runtime layer predicts the core's effective values and sources.

Checked after every step: no consumer saw a sequence id go backwards within one run of the core, or
an update that is not the last + 1 within a stream; the core's resident memory stays under its bound.
Checked after each write: the core's sequence id moved by exactly the number of keys whose effective
value or source changed, and the core's settings equal the model. Checked when the test settles
(a rule, and at the end of each example): every consumer reaches the core's sequence id and its view
equals the core's effective values and sources.

The second test adds hostile writes, which must be refused with INVALID_ARGUMENT and a one-line
message, and change nothing: values over the value limit, YAML alias bombs, a self-referencing alias,
a valid value in the same call as a hostile one, and bulk sets over the total limit (for these
RESOURCE_EXHAUSTED, a quota's answer, is accepted too).

Profiles (environment variable ``STATEFUL_PROFILE``):

- ``ci`` (default): 4 derandomized examples of 15 steps (one restart at most), no shrinking; about
  30 s per test on two busy cores. Hypothesis enables a random subset of the rules in each example.
- ``long``: 40 random examples of 50 steps (three restarts at most), with shrinking (a failure is
  reduced to a short list of steps, which takes minutes with real processes).

``STATEFUL_EXAMPLES`` / ``STATEFUL_STEPS`` override either profile's sizes.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bench.hostile import (
    alias_bomb,
    near_limit_text,
    over_total_values,
    oversized_text,
    self_referencing_alias,
    wrong_type_writes,
)
from comp.core.settings.impl.runtime_settings import mask_secret
from pkg.protoconv.values import from_value, to_value
from tests.e2e import consumer_support
from tests.e2e.harness import API_KEY, AgentProcess
from tests.e2e.stateful_support import LibraryConsumer, LoopThread, RawSubscriber
from tests.e2e.stream_support import CoreView, SettingsApi, memory_kib, view_mismatches
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

F = TypeVar("F", bound=Callable[..., Any])

RUNTIME = "agent-runtime"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
OVER_QUOTA = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
MAX_DETAILS = 1024
"""Longest error text accepted from the core (a refused value must not come back in full)."""
CALL_TIMEOUT = 30.0
SYNC_TIMEOUT = 20.0
HISTORY_MAX_BYTES = 4 * 1024 * 1024
QUEUE_MAX_BYTES = 2 * 1024 * 1024
CORE_SETTINGS: dict[str, Any] = {
    "remote_agent.registry.idle_timeout": "1s",
    "remote_agent.registry.recommended_refresh_interval": "200ms",
    "remote_agent.configstream.queue_size": 16,
    "remote_agent.configstream.history_size": 64,
    "remote_agent.configstream.history_max_bytes": HISTORY_MAX_BYTES,
    "remote_agent.configstream.queue_max_bytes": QUEUE_MAX_BYTES,
}
# The core's resident memory may grow over what it had once its consumers were connected by: the
# history's byte budget, one queue budget per subscriber, a few copies of the largest config (the
# snapshot cache, the serialized snapshot, a request being parsed) and room for the allocator's
# arenas and grpc's buffers (measured: about 30 MiB after a few values near the 1 MiB limit).
RSS_ALLOWANCE_KIB = (HISTORY_MAX_BYTES + 4 * QUEUE_MAX_BYTES + 3 * 3 * 1024 * 1024) // 1024 + 64 * 1024
MAX_RESTARTS = 3 if os.environ.get("STATEFUL_PROFILE") == "long" else 1
"""Restarts per example (each costs seconds: a new process, and consumers that back off)."""
MAX_EVICTIONS = 1
"""Evictions per example (each waits for the registry's idle timeout)."""
TEST_TIMEOUT = 7200 if os.environ.get("STATEFUL_PROFILE") == "long" else 600
LARGE_KEYS = ("custom.large0", "custom.large1")


def _profile() -> settings:
    name = os.environ.get("STATEFUL_PROFILE", "ci")
    if name not in ("ci", "long"):
        raise ValueError(f"STATEFUL_PROFILE={name!r}: expected 'ci' or 'long'")
    long = name == "long"
    return settings(
        max_examples=int(os.environ.get("STATEFUL_EXAMPLES") or (40 if long else 4)),
        stateful_step_count=int(os.environ.get("STATEFUL_STEPS") or (50 if long else 15)),
        derandomize=not long,
        deadline=None,
        database=None,
        phases=tuple(Phase) if long else (Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=long,
    )


def _normal(value: Any) -> Any:
    """A value as any reader gets it back from the wire (big integers as digits, numbers as doubles)."""
    return from_value(to_value(value))


# -- writes ------------------------------------------------------------------------------------------

Write = tuple[str, str, Any]
"""``(key, text sent, value the core holds)``."""

_NAMES = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)


def _flow_list(prefix: str, names: list[str]) -> Write:
    items = [f"{prefix}-{n}" for n in names]
    return ("tags" if prefix == "team" else "custom.list", "[" + ", ".join(items) + "]", items)


VALID_WRITES: st.SearchStrategy[Write] = st.one_of(
    st.sampled_from(["info", "warn", "error"]).map(lambda v: ("log_level", v, v)),
    _NAMES.map(lambda n: ("hostname", f"host-{n}", f"host-{n}")),
    _NAMES.map(lambda n: ("site", f"{n}.example", f"{n}.example")),
    st.lists(_NAMES, max_size=3).map(lambda names: _flow_list("team", names)),
    st.booleans().map(lambda b: ("logs_config.enabled", str(b).lower(), b)),
    st.integers(0, 2**128 - 1).map(lambda n: ("api_key", f"{n:032x}", f"{n:032x}")),
    st.integers(-(10**6), 10**6).map(lambda n: ("custom.count", str(n), n)),
    st.integers(2**53 + 1, 2**62).map(lambda n: ("custom.big", str(n), n)),
    _NAMES.map(lambda n: ("custom.text", f"text-{n}", f"text-{n}")),
    st.booleans().map(lambda b: ("custom.flag", str(b).lower(), b)),
    st.lists(_NAMES, max_size=4).map(lambda names: _flow_list("item", names)),
)
UNSET_KEYS = (
    "log_level",
    "hostname",
    "site",
    "tags",
    "logs_config.enabled",
    "api_key",
    "custom.count",
    "custom.big",
    "custom.text",
    "custom.flag",
    "custom.list",
    *LARGE_KEYS,
)

Op = tuple[str, Any]
"""A write of the state machine: ``(kind, argument)``; printed as such in a failing example."""

WRITE_OPS: st.SearchStrategy[Op] = st.one_of(
    VALID_WRITES.map(lambda w: ("set", [w])),
    st.lists(VALID_WRITES, min_size=2, max_size=6, unique_by=lambda w: w[0]).map(lambda ws: ("bulk", ws)),
    st.sampled_from(UNSET_KEYS).map(lambda key: ("unset", key)),
    st.tuples(st.sampled_from(LARGE_KEYS), st.integers(1024, 64 * 1024), st.sampled_from("@v")).map(
        lambda a: ("near_limit", a)
    ),
    st.sampled_from(wrong_type_writes()).map(lambda w: ("wrong_type", w)),
)

HOSTILE_COMPANIONS: dict[str, dict[str, str]] = {
    "alias bomb": {"custom.bomb": alias_bomb()},
    "value over the limit": {"custom.oversized": oversized_text("beside")},
    "wrong type": {"cmd_port": "not-a-port"},
}
"""A hostile value sent in the same call as a valid one: the call is refused as a whole."""

HOSTILE_OPS: st.SearchStrategy[Op] = st.one_of(
    st.tuples(
        # Keys whose text is parsed as YAML (a string key keeps the text as it is: no alias to expand).
        st.sampled_from(("custom.bomb", "tags", "logs_config.enabled")),
        st.text(alphabet="lo-", min_size=16, max_size=32),
    ).map(lambda a: ("alias_bomb", a)),
    st.sampled_from(("custom.loop", "tags")).map(lambda key: ("self_alias", key)),
    st.tuples(st.sampled_from((*LARGE_KEYS, "hostname")), st.integers(1, 64 * 1024)).map(
        lambda a: ("oversized", a)
    ),
    st.just(("over_total", None)),
    st.tuples(VALID_WRITES, st.sampled_from(sorted(HOSTILE_COMPANIONS))).map(lambda a: ("beside_hostile", a)),
)


def step(method: F) -> F:
    """Marks the machine unclean while a rule or invariant runs: a failed step skips the final settle."""

    @wraps(method)
    def wrapper(self: CoreMachine, *args: Any, **kwargs: Any) -> Any:
        self.clean = False
        started = time.monotonic()
        result = method(self, *args, **kwargs)
        self.harness.count(method.__name__, time.monotonic() - started)
        self.clean = True
        return result

    return wrapper  # type: ignore[return-value]


@dataclass
class Harness:
    """What every example of one test shares: its directory, the loop thread, figures to report."""

    directory: Path
    loop: LoopThread
    examples: int = 0
    peak_rss_growth_kib: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    rule_seconds: dict[str, float] = field(default_factory=dict)

    def count(self, name: str, seconds: float = 0.0) -> None:
        self.rule_counts[name] = self.rule_counts.get(name, 0) + 1
        self.rule_seconds[name] = self.rule_seconds.get(name, 0.0) + seconds

    def summary(self) -> str:
        return ", ".join(
            f"{name} {count}x {self.rule_seconds[name]:.1f}s"
            for name, count in sorted(self.rule_counts.items())
        )


class CoreMachine(RuleBasedStateMachine):
    """Valid writes and faults; see the module docstring."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.harness = harness
        self.loop = harness.loop
        harness.examples += 1
        self.clean = True
        self.generation = 0
        self.restarts = 0
        self.evictions = 0
        self.counter = 0
        self.runtime: dict[str, Any] = {}
        self.raw = [RawSubscriber("raw-fast"), RawSubscriber("raw-narrow", window=16 * 1024)]
        self.library = [LibraryConsumer("library-a"), LibraryConsumer("library-b")]
        self.agent = AgentProcess(
            harness.directory / f"core{harness.examples}", settings=CORE_SETTINGS, telemetry=False
        )
        self.channel: grpc.aio.Channel | None = None
        started = time.monotonic()
        try:
            self.agent.start()
            self._open_api()
            self.loop.run(self._connect_consumers(), 60, "connecting the consumers")
            self._after_start()
            harness.count("(start)", time.monotonic() - started)
        except BaseException:
            self._close()
            raise

    # -- setup and teardown --------------------------------------------------------------------------

    def _open_api(self) -> None:
        async def open_channel() -> grpc.aio.Channel:
            return self.agent.aio_channel()

        self.channel = self.loop.run(open_channel(), 10, "opening a channel")
        self.api = SettingsApi(self.agent, self.channel)

    async def _connect_consumers(self) -> None:
        for sub in self.raw:
            await sub.connect(self.agent, self.generation)
        for consumer in self.library:
            await consumer.start(self.agent)

    def _after_start(self) -> None:
        """Baseline of the model and of the memory bound, once a core serves its consumers."""
        core = self._core()
        self.core_seq = core.sequence_id
        self.baseline: dict[str, tuple[Any, str]] = {}
        self.masked: set[str] = set()
        for key, (value, source, masked) in core.settings.items():
            if masked:
                self.masked.add(key)
                assert key == "api_key" or value in ("", None), f"unexpected secret {key}: {value!r}"
            # A secret is listed masked: the model keeps the file's value in clear.
            self.baseline[key] = (API_KEY if key == "api_key" else value, source)
        self.rss_floor_kib = memory_kib(self.agent.pid)

    def _close(self) -> None:
        async def close_all() -> None:
            for sub in self.raw:
                await sub.close()
            for consumer in self.library:
                await consumer.close()
            if self.channel is not None:
                await self.channel.close()

        try:
            self.loop.run(close_all(), 30, "closing the consumers")
        finally:
            code = self.agent.stop()
            assert code in (0, None), (
                f"the core exited with {code} at its stop; log:\n{self.agent.log_text()[-2000:]}"
            )

    def teardown(self) -> None:
        try:
            if self.clean:
                self._settle()
        finally:
            started = time.monotonic()
            self._close()
            self.harness.count("(stop)", time.monotonic() - started)

    # -- the model -----------------------------------------------------------------------------------

    def _expected(self) -> dict[str, tuple[Any, str]]:
        view = dict(self.baseline)
        view.update({key: (value, RUNTIME) for key, value in self.runtime.items()})
        return view

    def _core(self) -> CoreView:
        return self.loop.run(self.api.view(), CALL_TIMEOUT, "ListSettings")

    def _model_mismatches(self, core: CoreView) -> list[str]:
        expected = self._expected()
        problems = [f"{k}: expected, not in the core" for k in sorted(set(expected) - set(core.settings))]
        problems += [f"{k}: in the core, not expected" for k in sorted(set(core.settings) - set(expected))]
        for key in sorted(set(expected) & set(core.settings)):
            value, source = expected[key]
            got, got_source, masked = core.settings[key]
            shown = mask_secret(value, key) if masked else value
            if (shown, source) != (got, got_source):
                problems.append(f"{key}: core has {got!r} ({got_source}), expected {shown!r} ({source})")
        return problems

    def _check_core(self, what: str) -> None:
        core = self._core()
        assert core.sequence_id == self.core_seq, (
            f"after {what}: the core is at sequence id {core.sequence_id}, expected {self.core_seq}"
        )
        problems = self._model_mismatches(core)
        assert not problems, f"after {what}: the core's settings differ from the model: {problems[:5]}"

    def _changed(self, before: dict[str, tuple[Any, str]], after: dict[str, tuple[Any, str]]) -> int:
        return sum(1 for key in set(before) | set(after) if before.get(key) != after.get(key))

    def _write(self, writes: dict[str, tuple[str, Any]]) -> None:
        """A set that must succeed; the model follows it."""
        before = self._expected()
        texts = {key: text for key, (text, _value) in writes.items()}
        sequence_id = self.loop.run(self.api.set(texts), CALL_TIMEOUT, f"SetSettings {sorted(texts)}")
        self.runtime.update({key: _normal(value) for key, (_text, value) in writes.items()})
        self._account(before, sequence_id, f"setting {sorted(texts)}")

    def _account(self, before: dict[str, tuple[Any, str]], sequence_id: int, what: str) -> None:
        changed = self._changed(before, self._expected())
        assert sequence_id == self.core_seq + changed, (
            f"{what}: sequence id {self.core_seq} -> {sequence_id}, expected +{changed} "
            "(one per key whose effective value or source changed)"
        )
        self.core_seq = sequence_id
        self._check_core(what)

    def _refused(
        self, values: dict[str, str], kind: str, codes: tuple[grpc.StatusCode, ...] = (INVALID,)
    ) -> None:
        """A set that must be refused with one of ``codes`` and a one-line message, changing nothing."""
        shown = {k: (v if len(v) <= 40 else f"<{len(v)} bytes>") for k, v in values.items()}
        try:
            sequence_id = self.loop.run(self.api.set(values), CALL_TIMEOUT, f"SetSettings ({kind})")
        except grpc.aio.AioRpcError as exc:
            details = exc.details() or ""
            expected = " or ".join(c.name for c in codes)
            assert exc.code() in codes, (
                f"{kind} {shown}: answered {exc.code().name} ({details[:200]}), expected {expected}"
            )
            assert details and "\n" not in details and len(details) <= MAX_DETAILS, (
                f"{kind}: the error is not one line of at most {MAX_DETAILS} characters: {details[:300]!r}"
            )
        else:
            raise AssertionError(
                f"{kind} {shown} was accepted (sequence id {self.core_seq} -> {sequence_id}); "
                f"expected {' or '.join(c.name for c in codes)} and no change"
            )
        self._check_core(f"a refused {kind}")

    # -- rules: writes -------------------------------------------------------------------------------
    # One rule draws every kind of write, and every fault is followed by a write: hypothesis enables a
    # random subset of the rules in each example (swarm testing), which could leave an example with
    # few writes, and writes right after a fault are the interesting ones.

    ops: st.SearchStrategy[Op] = WRITE_OPS
    """What a write may be (the hostile machine adds its own kinds)."""

    @rule(data=st.data())
    @step
    def write(self, data: st.DataObject) -> None:
        self._perform(data.draw(self.ops, label="write"))

    def _perform(self, op: Op) -> None:
        kind, arg = op
        self.harness.count(f"[{kind}]")
        if kind in ("set", "bulk"):
            self._write({key: (text, value) for key, text, value in arg})
        elif kind == "unset":
            before = self._expected()
            sequence_id = self.loop.run(self.api.unset(arg), CALL_TIMEOUT, f"UnsetSetting {arg}")
            self.runtime.pop(arg, None)
            self._account(before, sequence_id, f"unsetting {arg}")
        elif kind == "near_limit":
            key, margin, lead = arg
            self.counter += 1
            text = near_limit_text(f"{self.counter}-", margin, lead=lead)
            self._write({key: (text, text)})
        elif kind == "wrong_type":
            self._refused(arg.values, arg.kind)
        elif kind == "alias_bomb":
            key, leaf = arg
            self._refused({key: alias_bomb(leaf=leaf)}, "alias bomb")
        elif kind == "self_alias":
            self._refused({arg: self_referencing_alias()}, "self-referencing alias")
        elif kind == "oversized":
            key, excess = arg
            self._refused({key: oversized_text(key, excess)}, "value over the limit")
        elif kind == "over_total":
            # A quota rather than a bad value: RESOURCE_EXHAUSTED is as good an answer (etcd's).
            self._refused(over_total_values("custom.total"), "bulk set over the total limit", OVER_QUOTA)
        elif kind == "beside_hostile":
            (key, text, _value), hostile = arg
            self._refused({key: text, **HOSTILE_COMPANIONS[hostile]}, f"valid {key} beside a {hostile}")
        else:  # pragma: no cover - the strategies make only the kinds above
            raise AssertionError(f"unknown write {kind!r}")

    # -- rules: faults -------------------------------------------------------------------------------

    @precondition(lambda self: not self.raw[1].paused)
    @rule(data=st.data())
    @step
    def pause_reader(self, data: st.DataObject) -> None:
        self.loop.call(self.raw[1].pause, "pausing the narrow reader")
        self._perform(data.draw(self.ops, label="then write"))

    @precondition(lambda self: self.raw[1].paused)
    @rule(data=st.data())
    @step
    def resume_reader(self, data: st.DataObject) -> None:
        self.loop.call(self.raw[1].resume, "resuming the narrow reader")
        self._perform(data.draw(self.ops, label="then write"))

    @rule(index=st.integers(0, 1), same_session=st.booleans(), data=st.data())
    @step
    def reconnect_raw(self, index: int, same_session: bool, data: st.DataObject) -> None:
        sub = self.raw[index]
        self.loop.run(
            sub.connect(self.agent, self.generation, new_session=not same_session),
            CALL_TIMEOUT,
            f"reconnecting {sub.name}",
        )
        self._perform(data.draw(self.ops, label="then write"))

    @rule(index=st.integers(0, 1), data=st.data())
    @step
    def cut_library_connection(self, index: int, data: st.DataObject) -> None:
        """The consumer's connection drops; the write lands while it reconnects (and resumes)."""
        self.loop.call(self.library[index].cut, f"cutting {self.library[index].name}'s connection")
        self._perform(data.draw(self.ops, label="then write"))

    @precondition(lambda self: self.evictions < MAX_EVICTIONS)
    @rule()
    @step
    def evict_raw(self) -> None:
        """A raw client stops refreshing: the registry evicts it and its stream ends, PERMISSION_DENIED."""
        self.evictions += 1
        sub = self.raw[0]
        self.loop.call(sub.stop_refreshing, "stopping the refreshes")
        error = self.loop.run(sub.stream.wait_ended(), SYNC_TIMEOUT, f"{sub.name}'s eviction")
        assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED, (
            f"{sub.name}'s stream ended with {error!r} after its session expired, expected PERMISSION_DENIED"
        )
        self.loop.run(sub.connect(self.agent, self.generation), CALL_TIMEOUT, f"re-registering {sub.name}")

    @precondition(lambda self: self.restarts < MAX_RESTARTS)
    @rule()
    @step
    def restart_core(self) -> None:
        """A new core process on the same port and files: a new epoch, the runtime layer is gone."""
        self.restarts += 1
        snapshots = [c.snapshots for c in self.library]
        assert self.channel is not None
        self.loop.run(self.channel.close(), 10, "closing the settings channel")
        self.channel = None
        started = time.monotonic()
        code = self.agent.stop()
        self.harness.count("(restart: stop)", time.monotonic() - started)
        assert code == 0, f"the core exited with {code} at SIGTERM; log:\n{self.agent.log_text()[-2000:]}"
        old = self.agent
        self.agent = AgentProcess(old.directory, settings=old.settings, cmd_port=old.port, telemetry=False)
        started = time.monotonic()
        self.agent.start()
        self.harness.count("(restart: start)", time.monotonic() - started)
        self.generation += 1
        self.runtime = {}
        self._open_api()

        async def reconnect() -> None:
            for sub in self.raw:
                await sub.connect(self.agent, self.generation)
            # Each library consumer gets a snapshot of the new epoch (its resume is refused).
            for consumer, before in zip(self.library, snapshots, strict=True):
                await eventually(
                    lambda c=consumer, b=before: c.ready and c.snapshots > b,  # type: ignore[misc]
                    f"{consumer.name}'s snapshot from the restarted core",
                    consumer_support.WAIT,
                )

        self.loop.run(reconnect(), 60, "reconnecting after the restart")
        self._after_start()

    @rule()
    @step
    def settle(self) -> None:
        self._settle()

    def _settle(self) -> None:
        """Every consumer reaches the core's sequence id with the core's values and sources."""
        self.harness.count("settled")
        core = self._core()
        assert core.sequence_id == self.core_seq
        problems = self._model_mismatches(core)
        assert not problems, f"the core's settings differ from the model: {problems[:5]}"
        self.loop.run(self._sync_all(core), 90, "every consumer in sync with the core")

    async def _sync_all(self, core: CoreView) -> None:
        for sub in self.raw:
            sub.resume()
            if sub.stream.ended:  # a session evicted by a late refresh: a real agent registers again
                await sub.connect(self.agent, self.generation)
            await sub.stream.wait_sequence_id(core.sequence_id)
            mismatches = view_mismatches(sub.stream.view, core)
            assert not mismatches, f"{sub.name}'s view differs from the core's: {mismatches[:5]}"
            assert sub.stream.sequence_id == core.sequence_id, (
                f"{sub.name} is at sequence id {sub.stream.sequence_id}, beyond the core's {core.sequence_id}"
            )
        library_core = consumer_support.CoreView(core.settings, core.sequence_id)
        for consumer in self.library:
            target = consumer.consumer
            assert target is not None
            await eventually(
                lambda c=consumer: c.ready and c.sequence_id == core.sequence_id,  # type: ignore[misc]
                f"{consumer.name} at sequence id {core.sequence_id} (it is at {target.sequence_id}, "
                f"{target.state})",
                SYNC_TIMEOUT,
            )
            consumer_support.assert_view_matches(target, library_core)
            assert target.stats.gaps == 0, f"{consumer.name} saw {target.stats.gaps} gap(s) in the updates"

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    @step
    def sequence_ids_never_go_backwards(self) -> None:
        def check() -> list[str]:
            found: list[str] = []
            for sub in self.raw:
                found += sub.check_order()
            for consumer in self.library:
                found += consumer.check_order()
            return found

        problems = self.loop.call(check, "checking the order of sequence ids")
        assert not problems, f"sequence ids out of order: {problems[:5]}"

    @invariant()
    @step
    def core_memory_is_bounded(self) -> None:
        assert self.agent.returncode is None, f"the core exited; log:\n{self.agent.log_text()[-2000:]}"
        growth = memory_kib(self.agent.pid) - self.rss_floor_kib
        self.harness.peak_rss_growth_kib = max(self.harness.peak_rss_growth_kib, growth)
        assert growth <= RSS_ALLOWANCE_KIB, (
            f"the core's RSS grew by {growth} KiB since its consumers connected "
            f"(bound {RSS_ALLOWANCE_KIB} KiB)"
        )


class HostileCoreMachine(CoreMachine):
    """The same, with writes the core must refuse and that must change nothing (half of the writes)."""

    ops = st.one_of(WRITE_OPS, HOSTILE_OPS)


def _run(machine: type[CoreMachine], tmp_path: Path) -> Harness:
    harness = Harness(tmp_path, LoopThread())
    try:
        # hypothesis calls the factory for each example; it needs no more than a callable.
        run_state_machine_as_test(lambda: machine(harness), settings=_profile())  # type: ignore[arg-type]
    finally:
        harness.loop.close()
        print(
            f"{machine.__name__}: {harness.examples} examples, "
            f"steps: {harness.summary()}; "
            f"peak core RSS growth {harness.peak_rss_growth_kib} KiB (bound {RSS_ALLOWANCE_KIB} KiB)"
        )
    return harness


@pytest.mark.timeout(TEST_TIMEOUT)
def test_consumers_follow_the_core_through_churn_faults_and_restarts(tmp_path: Path) -> None:
    harness = _run(CoreMachine, tmp_path)
    assert harness.rule_counts.get("settled", 0) >= harness.examples, "every example ends settled"


@pytest.mark.timeout(TEST_TIMEOUT)
def test_hostile_writes_are_refused_and_change_nothing(tmp_path: Path) -> None:
    harness = _run(HostileCoreMachine, tmp_path)
    assert harness.rule_counts.get("settled", 0) >= harness.examples, "every example ends settled"
