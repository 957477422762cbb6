"""The shared typed getters, fed the way the remote side feeds them: protobuf-like values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pkg.config.errors import ConfigValueError
from pkg.config.getters import TypedGetters
from pkg.config.reader import MissingSettingError
from pkg.config.sources import Source
from pkg.config.tree import subtree


class DictReader(TypedGetters):
    """A reader over flat leaves, as the remote side keeps them."""

    def __init__(self, leaves: dict[str, Any]) -> None:
        self.leaves = leaves

    def get(self, key: str) -> Any:
        if key in self.leaves:
            return self.leaves[key]
        return subtree(self.leaves.items(), key)

    def get_source(self, key: str) -> Source | None:
        return Source.FILE if key in self.leaves else None

    def all_settings(self) -> dict[str, Any]:
        return dict(self.leaves)


def reader(value: Any) -> DictReader:
    return DictReader({"k": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (5001, "5001"),
        (5001.0, "5001"),  # a wire double of an integer prints as one
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (timedelta(seconds=90), "1m30s"),
    ],
)
def test_get_string(value: Any, expected: str) -> None:
    assert reader(value).get_string("k") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        (42.0, 42),
        ("42", 42),
        (" -7 ", -7),
        ("42.0", 42),
        ("1e3", 1000),
        ("18446744073709551615", 18446744073709551615),  # big ints travel as decimal text
    ],
)
def test_get_int(value: Any, expected: int) -> None:
    result = reader(value).get_int("k")
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("off", False),
        (1.0, True),
        (0, False),
    ],
)
def test_get_bool(value: Any, expected: bool) -> None:
    assert reader(value).get_bool("k") is expected


@pytest.mark.parametrize(("value", "expected"), [(1.5, 1.5), (2, 2.0), ("2.5", 2.5), (" -1e2 ", -100.0)])
def test_get_float(value: Any, expected: float) -> None:
    result = reader(value).get_float("k")
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10ms", timedelta(milliseconds=10)),
        (30.0, timedelta(seconds=30)),
        ("30", timedelta(seconds=30)),
    ],
)
def test_get_duration(value: Any, expected: timedelta) -> None:
    assert reader(value).get_duration("k") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        ([1.0, 2.5, True], ["1", "2.5", "true"]),
        ("a,b c", ["a", "b", "c"]),
        (" a , b ,, ", ["a", "b"]),
        ("[x, 'y z']", ["x", "y z"]),
        ("", []),
    ],
)
def test_get_string_list(value: Any, expected: list[str]) -> None:
    assert reader(value).get_string_list("k") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ({1: "x"}, {"1": "x"}),
        ('{"a": "b"}', {"a": "b"}),
        ("a: 1", {"a": 1}),
        ("  ", {}),
    ],
)
def test_get_string_map(value: Any, expected: dict[str, Any]) -> None:
    assert reader(value).get_string_map("k") == expected


def test_a_prefix_reads_as_nested_leaves() -> None:
    config = DictReader({"logs_config.enabled": True, "logs_config.batch.size": 5.0, "other": 1})
    assert config.get_string_map("logs_config") == {"enabled": True, "batch": {"size": 5.0}}
    assert config.get_int("logs_config.batch.size") == 5
    assert config.get_string("logs_config.batch.size") == "5"


@pytest.mark.parametrize(
    ("getter", "value", "expected"),
    [
        ("get_int", 1.5, "an integer"),
        ("get_int", "12abc", "an integer"),
        ("get_int", True, "an integer"),
        ("get_int", float("inf"), "an integer"),
        ("get_int", "1e99999", "an integer"),
        ("get_int", [1], "an integer"),
        ("get_bool", "maybe", "a boolean"),
        ("get_bool", 2, "a boolean"),
        ("get_bool", [True], "a boolean"),
        ("get_float", "1.2.3", "a number"),
        ("get_float", "nan", "a number"),
        ("get_float", True, "a number"),
        ("get_float", 10**400, "a number"),
        ("get_float", {"a": 1}, "a number"),
        ("get_string", [1, 2], "a string"),
        ("get_string", {"a": 1}, "a string"),
        ("get_duration", "soon", "a duration"),
        ("get_string_list", 5, "a list of strings"),
        ("get_string_list", [[1]], "a list of strings"),
        ("get_string_list", "[a, b", "a list"),
        ("get_string_list", "[", "a list"),
        ("get_string_map", 5, "a mapping"),
        ("get_string_map", "- a", "a mapping"),
        ("get_string_map", "{", "a mapping"),
    ],
)
def test_wrong_type_names_key_value_and_expected(getter: str, value: Any, expected: str) -> None:
    config = DictReader({"some.key": value})
    with pytest.raises(ConfigValueError) as info:
        getattr(config, getter)("some.key")
    message = str(info.value)
    assert "'some.key'" in message
    assert repr(value) in message
    assert f"expected {expected}" in message


GETTERS_AND_DEFAULTS: list[tuple[str, Any]] = [
    ("get_string", "fallback"),
    ("get_int", 7),
    ("get_bool", True),
    ("get_float", 0.25),
    ("get_duration", timedelta(seconds=3)),
    ("get_string_list", ["x"]),
    ("get_string_map", {"a": 1}),
]


@pytest.mark.parametrize(("getter", "default"), GETTERS_AND_DEFAULTS)
def test_an_absent_key_without_default_raises_a_key_error_naming_it(getter: str, default: Any) -> None:
    config = DictReader({"log_level": "info"})
    with pytest.raises(KeyError) as info:
        getattr(config, getter)("nothing.here")
    assert isinstance(info.value, MissingSettingError)
    assert info.value.key == "nothing.here"
    assert str(info.value) == "setting 'nothing.here' is not set and no default was given"


@pytest.mark.parametrize(("getter", "default"), GETTERS_AND_DEFAULTS)
def test_an_absent_key_with_a_default_gives_the_default(getter: str, default: Any) -> None:
    config = DictReader({"log_level": "info"})
    assert getattr(config, getter)("nothing.here", default=default) == default
    assert getattr(config, getter)("nothing.here", default) == default


def test_a_present_key_ignores_the_default() -> None:
    config = DictReader({"port": 5001.0, "flag": False, "text": ""})
    assert config.get_int("port", default=1) == 5001
    assert config.get_bool("flag", default=True) is False
    assert config.get_string("text", default="x") == ""


def test_a_missing_key_suggests_close_matches() -> None:
    config = DictReader({"log_level": "info", "log_file": "", "site": "x", "logs_config.enabled": True})
    with pytest.raises(MissingSettingError) as info:
        config.get_string("log_levl")
    assert info.value.close_matches[0] == "log_level"
    assert "did you mean 'log_level'" in str(info.value)
    with pytest.raises(MissingSettingError) as far:
        config.get_string("zzz")
    assert far.value.close_matches == ()
    assert "did you mean" not in str(far.value)


def test_a_null_value_without_default_names_key_and_type() -> None:
    config = DictReader({"k": None})
    with pytest.raises(ConfigValueError) as info:
        config.get_int("k")
    assert str(info.value) == "invalid value for 'k': None, expected an integer"
    assert not isinstance(info.value, KeyError)
    assert config.get_int("k", default=3) == 3
