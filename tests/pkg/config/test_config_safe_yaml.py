"""Bounded YAML: aliases, nesting and expansion are refused before any value is built, with libyaml's
parser and with the pure-Python one."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pkg.config import safe_yaml
from pkg.config.safe_yaml import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    YamlLimitError,
    load_document,
    load_value,
    parse_text_value,
)


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """``levels`` lines, each naming ``width`` times the one before: width**levels leaves (~350 bytes)."""
    lines = [f"a0: &a0 [{','.join('x' * width)}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines)


def nested_flow(levels: int) -> str:
    return "[" * levels + "x" + "]" * levels


def nested_block_sequences(levels: int) -> str:
    return "- " * levels + "x"


def nested_block_mappings(levels: int) -> str:
    return "".join(" " * i + "k:\n" for i in range(levels)) + " " * levels + "x"


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test runs with libyaml's events (when PyYAML has it) and with the pure-Python parser only."""
    if request.param == "pure-python":
        monkeypatch.setattr(safe_yaml, "_FAST_LOADER", None)
        monkeypatch.setattr(safe_yaml, "_VALUE_LOADERS", (None, safe_yaml._VALUE_LOADERS[1]))
        monkeypatch.setattr(safe_yaml, "_FILE_LOADERS", (None, safe_yaml._FILE_LOADERS[1]))
    elif safe_yaml._FAST_LOADER is None:  # pragma: no cover - PyYAML's wheels include libyaml
        pytest.skip("PyYAML without libyaml")
    yield request.param


def peak_bytes(call: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        call()
    except YamlLimitError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_the_billion_laughs_is_refused_as_a_value_at_its_first_anchor(parser: str) -> None:
    text = billion_laughs()
    assert len(text) < 400
    with pytest.raises(YamlLimitError, match="anchors and aliases") as info:
        parse_text_value(text)
    assert info.value.line == 1
    assert peak_bytes(lambda: parse_text_value(text)) < 256 * 1024


@pytest.mark.parametrize("levels", [5, 9, 12])
def test_the_billion_laughs_is_refused_in_a_file_when_its_expansion_passes_the_budget(
    parser: str, levels: int
) -> None:
    text = billion_laughs(levels)
    with pytest.raises(YamlLimitError, match=f"aliases expand to more than {MAX_ALIAS_NODES} nodes") as info:
        load_document(text)
    assert info.value.line == 5  # a4, the first line whose aliases bring in more than the budget
    # Refused while composing: memory does not grow with the levels the text would expand to.
    assert peak_bytes(lambda: load_document(text)) < 1024 * 1024


def test_aliases_in_a_file_within_the_budget_are_read(parser: str) -> None:
    size = 100  # the anchored list and its 99 items
    items = ", ".join(["x"] * (size - 1))

    def document(aliases: int) -> str:
        return f"a: &a [{items}]\nb: [{', '.join(['*a'] * aliases)}]\n"

    data, node = load_document(document(MAX_ALIAS_NODES // size))  # exactly the budget
    assert node is not None and len(data["b"]) == MAX_ALIAS_NODES // size
    assert data["b"][0] == ["x"] * (size - 1)
    with pytest.raises(YamlLimitError, match="aliases expand"):
        load_document(document(MAX_ALIAS_NODES // size + 1))
    merged, _ = load_document("base: &base {x: 1, y: 2}\nother:\n  <<: *base\n  y: 3\n")
    assert merged["other"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text", ["a: &a [*a]", "a: &m {self: *m}", "a: &a [b, [c, *a]]", "&top {k: *top}"])
def test_a_self_referencing_alias_is_refused(parser: str, text: str) -> None:
    with pytest.raises(YamlLimitError, match="lies inside the node it names"):
        load_document(text)
    with pytest.raises(YamlLimitError, match="anchors and aliases"):
        parse_text_value(text)


@pytest.mark.parametrize(
    ("make", "deepest"),
    # 1,000 levels of indented mappings are already 500 KB of text.
    [(nested_flow, 10_000), (nested_block_sequences, 10_000), (nested_block_mappings, 1_000)],
)
def test_deep_nesting_is_refused_clearly_without_recursion_errors(
    parser: str, make: Callable[[int], str], deepest: int
) -> None:
    limit = sys.getrecursionlimit()
    for levels in (MAX_DEPTH, deepest):
        text = make(levels)
        for load in (parse_text_value, load_document):
            with pytest.raises(YamlLimitError, match=f"nested deeper than {MAX_DEPTH} levels"):
                load(text)
    assert sys.getrecursionlimit() == limit
    # MAX_DEPTH levels: MAX_DEPTH - 1 collections and their scalar.
    assert load_value(make(MAX_DEPTH - 1)) is not None
    assert load_document(make(MAX_DEPTH - 1))[0] is not None


def test_aliases_count_their_depth_where_they_are_used(parser: str) -> None:
    deep = nested_flow(40)
    with pytest.raises(YamlLimitError, match=r"alias \*d makes the YAML nested deeper than 64"):
        load_document(f"a: &d {deep}\nb: {'[' * 30}*d{']' * 30}\n")
    data, _ = load_document(f"a: &d {deep}\nb: [*d]\n")
    assert data["b"][0] == data["a"]


@pytest.mark.parametrize(
    "text",
    [
        "debug",
        "10",
        "1.5",
        "true",
        "~",
        "[a, b, 1]",
        "{k: v, n: [1, 2]}",
        "- a\n- b",
        "'quoted'",
        "2001-12-14",
        "0x1F",
        "a*b",
        "x & y",
        # More nesting marks than MAX_DEPTH, yet shallow: read by the bounded loaders.
        "[" + ", ".join(["a-b"] * 70) + "]",
        "{" + ", ".join(f"k{i}: v" for i in range(70)) + "}",
        "- " * (MAX_DEPTH - 1) + "x",
    ],
)
def test_plain_values_read_as_pyyaml_reads_them(parser: str, text: str) -> None:
    try:
        expected: Any = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        with pytest.raises((yaml.YAMLError, YamlLimitError)):
            load_value(text)
        return
    if isinstance(expected, list) and str(expected).count("[") >= MAX_DEPTH:
        with pytest.raises(YamlLimitError):
            load_value(text)
        return
    value = load_value(text)
    assert (type(value), value) == (type(expected), expected)
    assert load_document(text)[0] == expected


def test_text_that_is_not_yaml_stays_as_given_and_limits_are_not_swallowed(parser: str) -> None:
    for text in ("a: [b", "!!int x", "*.log", "a\n---\nb", "", "  "):
        assert parse_text_value(text) == text
    assert parse_text_value('"\\ud800"') == "\ud800"  # an escape libyaml rejects: PyYAML decides
    for text in ("&a x", "*undefined", "[a, *b]"):  # quote them to keep them as text
        with pytest.raises(YamlLimitError, match="anchors and aliases"):
            parse_text_value(text)
    assert parse_text_value("'*undefined'") == "*undefined"


def test_a_document_and_its_nodes() -> None:
    data, node = load_document("a:\n  b: 1\n")
    assert data == {"a": {"b": 1}}
    assert isinstance(node, yaml.MappingNode) and node.start_mark.line == 0
    assert load_document("") == (None, None)
    assert load_document("# only a comment\n") == (None, None)


@pytest.mark.parametrize(
    "text",
    ["ts-1733150000", "info", "a.b", "x/y", "1e3", "inf", "y", "n", "12.3.4", "abc_def", "a-", "_x"],
)
def test_plain_words_read_as_strings_are_returned_unparsed(text: str) -> None:
    assert safe_yaml.is_plain_string(text)
    assert parse_text_value(text) == yaml.safe_load(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "On",
        "off",
        "null",
        "NULL",
        "~",
        "1_000",
        "0x1F",
        "007",
        "1.5",
        ".5",
        "2001-12-14",
        "1:2",
        "a b",
        "a: b",
        "[a]",
        "-a",
        "'q'",
        "a#b",
        "",
        "é",
    ],
)
def test_anything_else_goes_through_the_parser(text: str) -> None:
    assert not safe_yaml.is_plain_string(text)


def test_words_yaml_reads_as_other_types_keep_their_types() -> None:
    assert parse_text_value("yes") is True
    assert parse_text_value("1_000") == 1000
    assert parse_text_value("null") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abyYnNoOfFtTlLuUexX0123456789_.-/+:", min_size=1, max_size=12))
def test_the_shortcut_agrees_with_the_parser(text: str) -> None:
    if safe_yaml.is_plain_string(text):
        assert load_value(text) == text and type(load_value(text)) is str
