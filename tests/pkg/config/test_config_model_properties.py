"""Properties of the layered model against a simple reference, for any sequence of writes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkg.config.change import ConfigChange
from pkg.config.errors import ConfigValueError
from pkg.config.model import LayeredConfig
from pkg.config.schema import KeySpec, Schema, ValueType
from pkg.config.sources import SOURCES_BY_PRIORITY, Source

DECLARED = "n"  # an int key with default 0
KEYS = [DECLARED, "a", "b.c", "b.d"]
VALUES = st.one_of(st.integers(0, 2), st.booleans(), st.sampled_from([1.0, "1", "x"]))
SOURCES = st.sampled_from(SOURCES_BY_PRIORITY)

SET = st.tuples(st.just("set"), st.sampled_from(KEYS), VALUES, SOURCES)
UNSET = st.tuples(st.just("unset"), st.sampled_from(KEYS), st.none(), SOURCES)
OPS = st.lists(st.one_of(SET, UNSET), max_size=40)


def new_config() -> LayeredConfig:
    return LayeredConfig(Schema([KeySpec(DECLARED, ValueType.INT, 0)]))


def same(a: tuple[Any, Source] | None, b: tuple[Any, Source] | None) -> bool:
    if a is None or b is None:
        return a is b
    return type(a[0]) is type(b[0]) and a[0] == b[0] and a[1] is b[1]


class Reference:
    """Layers as plain dicts; the effective setting is the one of the highest layer."""

    def __init__(self) -> None:
        self.layers: dict[Source, dict[str, Any]] = {s: {} for s in SOURCES_BY_PRIORITY}
        self.layers[Source.DEFAULT][DECLARED] = 0

    def effective(self, key: str) -> tuple[Any, Source] | None:
        for source in reversed(SOURCES_BY_PRIORITY):
            if key in self.layers[source]:
                return self.layers[source][key], source
        return None


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_effective_values_sequence_ids_and_callbacks_follow_the_highest_layer(
    ops: list[tuple[str, str, Any, Source]],
) -> None:
    config = new_config()
    reference = Reference()
    changes: list[ConfigChange] = []
    config.on_update(changes.append)
    for op, key, value, source in ops:
        before = {k: reference.effective(k) for k in KEYS}
        seq_before, seen_before = config.sequence_id, len(changes)
        if op == "set" and key == DECLARED and (isinstance(value, bool) or value == "x"):
            with pytest.raises(ConfigValueError):  # not an int: refused, nothing changes
                config.set(key, value, source)
            assert config.sequence_id == seq_before and len(changes) == seen_before
            continue
        if op == "set":
            config.set(key, value, source)
            reference.layers[source][key] = int(value) if key == DECLARED else value  # "1", 1.0 -> 1
        else:
            config.unset_for_source(key, source)
            reference.layers[source].pop(key, None)
        changed = [k for k in KEYS if not same(before[k], reference.effective(k))]
        assert config.sequence_id == seq_before + len(changed)
        new_changes = changes[seen_before:]
        assert [c.key for c in new_changes] == changed  # one op touches at most one key here
        for change in new_changes:
            old, new = before[change.key], reference.effective(change.key)
            assert change.old == (None if old is None else old[0])
            assert change.new == (None if new is None else new[0])
            assert type(change.new) is type(None if new is None else new[0])
            assert change.source is (None if new is None else new[1])
            assert change.unset_source is (source if op == "unset" else None)
        for k in KEYS:
            expected = reference.effective(k)
            assert config.get_source(k) is (None if expected is None else expected[1])
            assert config.get(k) == (None if expected is None else expected[0])
    assert [c.sequence_id for c in changes] == list(range(1, config.sequence_id + 1))
    settings_, sequence_id = config.flattened_with_sequence_id()
    assert sequence_id == config.sequence_id
    assert {k: (s.value, s.source) for k, s in settings_.items()} == {
        k: e for k in KEYS if (e := reference.effective(k)) is not None
    }


THREAD_OPS = st.lists(
    st.lists(st.tuples(st.sampled_from(["a", "b", "shared"]), st.integers(0, 3), SOURCES), max_size=25),
    min_size=2,
    max_size=4,
)


@settings(max_examples=25, deadline=None)
@given(THREAD_OPS)
def test_concurrent_writers_produce_an_ordered_faithful_log(
    per_thread: list[list[tuple[str, int, Source]]],
) -> None:
    config = new_config()
    changes: list[ConfigChange] = []
    config.on_update(changes.append)  # delivery is serialized: no lock needed for the list
    barrier = threading.Barrier(len(per_thread))

    def writer(index: int, ops: list[tuple[str, int, Source]]) -> None:
        barrier.wait(timeout=10)
        for key, value, source in ops:
            if value == 3:
                config.unset_for_source(f"t{index}.{key}" if key != "shared" else key, source)
            else:
                config.set(f"t{index}.{key}" if key != "shared" else key, value, source)

    threads = [threading.Thread(target=writer, args=(i, ops)) for i, ops in enumerate(per_thread)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    # Ids are contiguous and delivered in order; replaying the log gives the final state.
    assert [c.sequence_id for c in changes] == list(range(1, config.sequence_id + 1))
    replay: dict[str, tuple[Any, Source | None]] = {}
    for change in changes:
        previous = replay.get(change.key, (None, None))[0]
        assert change.old == previous
        replay[change.key] = (change.new, change.source)
    final = {k: (s.value, s.source) for k, s in config.flattened_with_sequence_id()[0].items()}
    assert {k: v for k, v in replay.items() if v[1] is not None} == {
        k: v for k, v in final.items() if k != DECLARED
    }

    # Keys written by one thread only end exactly as that thread's sequence of writes says.
    for index, ops in enumerate(per_thread):
        reference = Reference()
        for key, value, source in ops:
            if key == "shared":
                continue
            if value == 3:
                reference.layers[source].pop(key, None)
            else:
                reference.layers[source][key] = value
        for key in ("a", "b"):
            expected = reference.effective(key)
            assert config.get(f"t{index}.{key}") == (None if expected is None else expected[0])
            assert config.get_source(f"t{index}.{key}") is (None if expected is None else expected[1])
