from __future__ import annotations

import pytest

from pkg.config.change import ConfigChange, Setting
from pkg.config.sources import Source
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import (
    DIRECT_ENCODING_SETTINGS,
    encode_snapshot,
    sequence_id_from_wire,
    snapshot_epoch_suffix,
    snapshot_event,
    snapshot_payload,
    update_event,
    wire_sequence_id,
)
from pkg.protoconv.values import ValueConversionError, from_value, to_value


def _parse(event: configstream_pb2.ConfigEvent) -> configstream_pb2.ConfigEvent:
    return configstream_pb2.ConfigEvent.FromString(event.SerializeToString())


@pytest.mark.parametrize(
    ("sequence_id", "wire"),
    [(0, 0), (7, 7), (2**31 - 1, 2**31 - 1), (2**31, -(2**31)), (2**32, 0), (2**32 + 5, 5)],
)
def test_wire_sequence_id_keeps_the_low_32_bits_signed(sequence_id: int, wire: int) -> None:
    assert wire_sequence_id(sequence_id) == wire


def test_update_event_for_a_set() -> None:
    change = ConfigChange("log_level", "info", "debug", Source.AGENT_RUNTIME, 12)
    event = _parse(update_event("datadog.yaml", change))
    assert event.WhichOneof("event") == "update"
    assert event.update.origin == "datadog.yaml"
    assert event.update.sequence_id == 12
    setting = event.update.setting
    assert (setting.key, setting.source, setting.unset_source) == ("log_level", "agent-runtime", "")
    assert from_value(setting.value) == "debug"


def test_update_event_for_an_unset_carries_unset_source_and_the_fallback_value() -> None:
    change = ConfigChange("log_level", "debug", "warn", Source.FILE, 3, unset_source=Source.AGENT_RUNTIME)
    setting = _parse(update_event("core-agent", change)).update.setting
    assert (setting.source, setting.unset_source) == ("file", "agent-runtime")
    assert from_value(setting.value) == "warn"


def test_update_event_for_an_unset_with_nothing_left_is_null_without_source() -> None:
    change = ConfigChange("extra", 1, None, None, 4, unset_source=Source.CLI)
    setting = _parse(update_event("core-agent", change)).update.setting
    assert setting.HasField("value")
    assert setting.value.WhichOneof("kind") == "null_value"
    assert (setting.source, setting.unset_source) == ("", "cli")


def test_snapshot_event_lists_every_setting_sorted() -> None:
    settings = {
        "site": Setting("datadoghq.com", Source.DEFAULT),
        "api_key": Setting("abc", Source.ENVIRONMENT_VARIABLE),
        "tags": Setting(["a", "b"], Source.FILE),
    }
    event = _parse(snapshot_event("datadog.yaml", 9, settings))
    assert event.WhichOneof("event") == "snapshot"
    assert (event.snapshot.origin, event.snapshot.sequence_id) == ("datadog.yaml", 9)
    assert [(s.key, s.source, from_value(s.value)) for s in event.snapshot.settings] == [
        ("api_key", "environment-variable", "abc"),
        ("site", "default", "datadoghq.com"),
        ("tags", "file", ["a", "b"]),
    ]


def test_an_empty_snapshot_is_still_a_snapshot() -> None:
    event = _parse(snapshot_event("core-agent", 0, {}))
    assert event.WhichOneof("event") == "snapshot"
    assert event.snapshot.origin == "core-agent"


def test_unconvertible_values_are_sent_as_null_and_reported() -> None:
    errors: list[tuple[str, ValueConversionError]] = []
    settings = {"good": Setting(1, Source.FILE), "bad": Setting({"x": b"raw"}, Source.FILE)}
    event = _parse(snapshot_event("core-agent", 1, settings, lambda k, e: errors.append((k, e))))
    by_key = {s.key: s for s in event.snapshot.settings}
    assert by_key["bad"].source == "file"
    assert by_key["bad"].value.WhichOneof("kind") == "null_value"
    assert from_value(by_key["good"].value) == 1
    assert [(key, err.path) for key, err in errors] == [("bad", "bad.x")]

    errors.clear()
    change = ConfigChange("bad", None, object(), Source.AGENT_RUNTIME, 2)
    update = _parse(update_event("core-agent", change, lambda k, e: errors.append((k, e)))).update
    assert update.sequence_id == 2
    assert update.setting.value.WhichOneof("kind") == "null_value"
    assert [key for key, _ in errors] == ["bad"]


@pytest.mark.parametrize(
    ("wire_id", "near", "expected"),
    [
        (5, 5, 5),
        (3, 5, 3),
        (9, 5, 9),
        (2**31 - 3, 2**31 + 2, 2**31 - 3),  # a point before the wrap, seen after it
        (-(2**31), 2**31 + 2, 2**31),
        (-(2**31) + 2, 2**31 - 3, 2**31 + 2),  # ahead, across the wrap
        (7, 2**32 + 10, 2**32 + 7),  # a second wrap
    ],
)
def test_sequence_id_from_wire_is_the_nearest_id_with_that_wire_form(
    wire_id: int, near: int, expected: int
) -> None:
    result = sequence_id_from_wire(wire_id, near)
    assert result == expected
    assert wire_sequence_id(result) == wire_id


@pytest.mark.parametrize(
    "settings",
    [{}, {"log_level": Setting("info", Source.FILE), "tags": Setting(["a", {"b": None}], Source.CLI)}],
)
def test_the_epoch_suffix_merges_into_a_serialized_snapshot(settings: dict[str, Setting]) -> None:
    base = snapshot_event("datadog.yaml", 12, settings)
    payload = base.SerializeToString() + snapshot_epoch_suffix("0123abcd")
    parsed = configstream_pb2.ConfigEvent.FromString(payload)
    expected = configstream_pb2.ConfigEvent()
    expected.CopyFrom(base)
    expected.snapshot.epoch = "0123abcd"
    assert parsed == expected
    assert parsed.snapshot.epoch == "0123abcd"
    assert len(parsed.snapshot.settings) == len(settings)
    assert parsed.SerializeToString() == expected.SerializeToString()


def test_the_epoch_suffix_alone_is_a_snapshot_holding_only_the_epoch() -> None:
    parsed = configstream_pb2.ConfigEvent.FromString(snapshot_epoch_suffix("e"))
    assert parsed.WhichOneof("event") == "snapshot"
    assert (parsed.snapshot.epoch, parsed.snapshot.origin, len(parsed.snapshot.settings)) == ("e", "", 0)


def test_a_snapshot_sends_text_that_utf8_cannot_encode_as_null_and_reports_it() -> None:
    errors: list[tuple[str, ValueConversionError]] = []
    settings = {"a": Setting("\ud800", Source.FILE), "b": Setting("fine", Source.CLI)}
    event = _parse(snapshot_event("core-agent", 3, settings, lambda k, e: errors.append((k, e))))
    entries = list(event.snapshot.settings)
    assert [(s.key, s.source, s.value.WhichOneof("kind")) for s in entries] == [
        ("a", "file", "null_value"),
        ("b", "cli", "string_value"),
    ]
    assert [key for key, _ in errors] == ["a"]


def test_a_snapshot_is_byte_for_byte_what_one_message_per_setting_gives() -> None:
    values: list[object] = ["x", 1, 2.5, True, None, 2**60, ["a", 1], {"k": {"n": [None]}}, "é"]
    sources = [Source.DEFAULT, Source.FILE, Source.CLI]
    settings = {f"k{i}": Setting(v, sources[i % 3]) for i, v in enumerate(values)}
    expected = configstream_pb2.ConfigEvent()
    expected.snapshot.origin = "o"
    expected.snapshot.sequence_id = 4
    for key in sorted(settings):
        expected.snapshot.settings.add(
            key=key, source=str(settings[key].source), value=to_value(settings[key].value)
        )
    assert snapshot_event("o", 4, settings).SerializeToString() == expected.SerializeToString()


_PAYLOAD_VALUES: list[object] = [
    "x",
    "",
    "é" * 70,
    "y" * 200,
    0,
    1,
    -1,
    2**53,
    -(2**53),
    2**60,
    2.5,
    -0.0,
    1e308,
    True,
    False,
    None,
    ["a", 1, None],
    [],
    {"k": {"n": [None]}},
    {},
    float("nan"),
    b"raw",
    "\ud800",
]


@pytest.mark.parametrize("sequence_id", [0, 1, 300, 2**31 - 1, 2**31, 2**32 + 5])
def test_snapshot_payload_is_byte_for_byte_the_serialized_snapshot_event(sequence_id: int) -> None:
    sources = [Source.DEFAULT, Source.FILE, Source.CLI, Source.AGENT_RUNTIME]
    settings = {f"k{i:02d}": Setting(v, sources[i % 4]) for i, v in enumerate(_PAYLOAD_VALUES)}
    settings["z" * 300] = Setting("long key", Source.FILE)
    settings["clé"] = Setting("vàleur " * 40, Source.FILE)  # neither key nor value ASCII
    settings["ascii"] = Setting("x" * 200, Source.AGENT_RUNTIME)  # a two-byte length
    settings["large"] = Setting("y" * 20_000, Source.FILE)  # a three-byte length
    errors: list[str] = []
    expected_errors: list[str] = []
    expected = snapshot_event("datadog.yaml", sequence_id, settings, lambda k, e: expected_errors.append(k))
    payload = snapshot_payload("datadog.yaml", sequence_id, settings, lambda k, e: errors.append(k))
    assert payload == expected.SerializeToString()
    assert errors == expected_errors == ["k20", "k21", "k22"]


def test_snapshot_payload_of_nothing_is_an_empty_snapshot() -> None:
    assert snapshot_payload("", 0, {}) == snapshot_event("", 0, {}).SerializeToString()
    assert configstream_pb2.ConfigEvent.FromString(snapshot_payload("", 0, {})).HasField("snapshot")


@pytest.mark.parametrize("count", [0, 3, DIRECT_ENCODING_SETTINGS - 1, DIRECT_ENCODING_SETTINGS])
def test_encode_snapshot_gives_the_message_s_bytes_on_either_side_of_the_threshold(count: int) -> None:
    settings = {f"k{i:06d}": Setting(f"v{i}" if i % 3 else i, Source.FILE) for i in range(count)}
    expected = snapshot_event("datadog.yaml", 7, settings).SerializeToString()
    assert encode_snapshot("datadog.yaml", 7, settings) == expected
