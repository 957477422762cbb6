"""Bounded YAML parsing of everything that comes from outside: the config file, ``DD_*`` values, runtime
values.

PyYAML's safe loader expands aliases: a few hundred bytes of nested aliases (``a1: &a1 [*a0, *a0, ...]``)
name millions of nodes, and a self-referencing alias builds a structure that contains itself. Here a
document is composed (events to a node graph) by a composer that measures as it goes, before any
value is built:

- nesting: no node deeper than :data:`MAX_DEPTH` levels, counting what aliases bring in;
- values (runtime, environment): anchors and aliases are refused;
- files: the nodes that aliases bring in (an alias counts every node of what it names) are bounded by
  :data:`MAX_ALIAS_NODES`, and an alias inside the node it names (a recursive structure) is refused.

The C parser (libyaml) produces the events when PyYAML has it. The pure-Python parser reads a text
again when libyaml refused it, within bounds, since it is slow (~15 µs a character): a short value
refused for an escape libyaml rejects (``"\\ud800"``), a config file of up to 256 KiB (for PyYAML's
messages). A value text that can hold neither an anchor, nor an alias, nor :data:`MAX_DEPTH` levels
of nesting (it has too few of the characters that open one) is read by libyaml's own composer: the
common short value costs what it cost before the checks existed. A value that is one plain word
(letters, digits, ``_ . / -``) which PyYAML's resolver reads as a string is that text, with no
parsing at all: the commonest runtime value costs a regular expression.

Limits raise :class:`YamlLimitError`, which is not a :class:`yaml.YAMLError`: "not YAML" and "over a
limit" stay apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import AliasEvent
from yaml.nodes import Node

__all__ = [
    "FILE_LIMITS",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "VALUE_LIMITS",
    "YamlLimitError",
    "YamlLimits",
    "is_plain_string",
    "load_document",
    "load_value",
    "parse_text_value",
]

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings in a YAML document (the root is level 1)."""
MAX_ALIAS_NODES = 10_000
"""Nodes that the aliases of one config file may bring in, counted after expansion."""


@dataclass(frozen=True)
class YamlLimits:
    """What a document may hold. ``aliases``: anchors and aliases allowed (bounded by
    ``max_alias_nodes``); ``max_depth``: levels of nesting."""

    aliases: bool
    max_depth: int = MAX_DEPTH
    max_alias_nodes: int = MAX_ALIAS_NODES


VALUE_LIMITS = YamlLimits(aliases=False)
"""For a value given as text (runtime, environment)."""
FILE_LIMITS = YamlLimits(aliases=True)
"""For the config file."""


class YamlLimitError(ValueError):
    """A document is over a limit. ``reason`` says which, ``limit`` names it and ``maximum`` is its
    value (0 for anchors and aliases where none are allowed); ``line`` is 1-based (None: unknown)."""

    def __init__(self, reason: str, line: int | None, *, limit: str, maximum: int) -> None:
        self.reason = reason
        self.line = line
        self.limit = limit
        self.maximum = maximum
        super().__init__(reason if line is None else f"line {line}: {reason}")


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return None if mark is None else int(mark.line) + 1


class _MeasuringComposer(Composer):
    """A composer that refuses what its :class:`YamlLimits` do not allow, before anything is built.

    Each node's size (nodes, counting through aliases) and height (levels) are summed up the stack of
    nodes being composed; a finished anchored node keeps its measure, so an alias costs O(1).
    """

    limits: ClassVar[YamlLimits] = FILE_LIMITS

    if TYPE_CHECKING:  # provided by the parser the composer is mixed with

        def peek_event(self) -> Any: ...

        def get_event(self) -> Any: ...

    def compose_document(self) -> Node | None:
        self._open: list[list[int]] = [[0, 0]]  # [size, height] of the nodes being composed
        self._measured: dict[str, tuple[int, int]] = {}  # anchors whose node is finished
        self._alias_nodes = 0
        node: Node | None = super().compose_document()
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        limits = self.limits
        event = self.peek_event()
        depth = len(self._open) - 1
        if isinstance(event, AliasEvent) or (event.anchor is not None and not limits.aliases):
            if not limits.aliases:
                raise YamlLimitError(
                    "YAML anchors and aliases (&name, *name) are not accepted in a value",
                    _line(event),
                    limit="YAML anchors and aliases",
                    maximum=0,
                )
            return self._compose_alias(depth)
        if depth >= limits.max_depth:
            raise YamlLimitError(
                f"YAML nested deeper than {limits.max_depth} levels",
                _line(event),
                limit="MAX_DEPTH",
                maximum=limits.max_depth,
            )
        self._open.append([1, 1])
        node: Node | None = super().compose_node(parent, index)
        size, height = self._open.pop()
        if event.anchor is not None:
            self._measured[event.anchor] = (size, height)
        self._add(size, height)
        return node

    def _compose_alias(self, depth: int) -> Node:
        event = self.get_event()
        anchor = event.anchor
        if anchor not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
        measure = self._measured.get(anchor)
        if measure is None:
            raise YamlLimitError(
                f"alias *{anchor} lies inside the node it names (a structure that contains itself)",
                _line(event),
                limit="recursive YAML aliases",
                maximum=0,
            )
        size, height = measure
        self._alias_nodes += size
        if self._alias_nodes > self.limits.max_alias_nodes:
            raise YamlLimitError(
                f"YAML aliases expand to more than {self.limits.max_alias_nodes} nodes",
                _line(event),
                limit="MAX_ALIAS_NODES",
                maximum=self.limits.max_alias_nodes,
            )
        if depth + height > self.limits.max_depth:
            raise YamlLimitError(
                f"alias *{anchor} makes the YAML nested deeper than {self.limits.max_depth} levels",
                _line(event),
                limit="MAX_DEPTH",
                maximum=self.limits.max_depth,
            )
        self._add(size, height)
        node: Node = self.anchors[anchor]
        return node

    def _add(self, size: int, height: int) -> None:
        parent = self._open[-1]
        parent[0] += size
        parent[1] = max(parent[1], height + 1)


class _PyLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    _MeasuringComposer,
    yaml.constructor.SafeConstructor,
    yaml.resolver.Resolver,
):
    """PyYAML's pure-Python reader, scanner and parser, this module's composer, the safe constructors."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _MeasuringComposer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


_CParser: type[Any] | None = getattr(getattr(yaml, "cyaml", None), "CParser", None)
_FAST_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None)

if _CParser is not None:

    class _CLoader(_MeasuringComposer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):  # type: ignore[misc, valid-type]
        """libyaml's events, this module's composer, PyYAML's safe constructors."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)  # type: ignore[misc]
            _MeasuringComposer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


def _loaders(limits: YamlLimits) -> tuple[type[Any] | None, type[Any]]:
    """(libyaml-based loader or None, pure-Python loader) bound to ``limits``."""
    c_loader = None if _CParser is None else type("_CLoader", (_CLoader,), {"limits": limits})
    return c_loader, type("_PyLoader", (_PyLoader,), {"limits": limits})


_VALUE_LOADERS = _loaders(VALUE_LIMITS)
_FILE_LOADERS = _loaders(FILE_LIMITS)
_NESTING_MARKS = "[{-:?"  # every level of nesting needs one: flow "[", "{"; block "-", ":" (or "?")
_LIBYAML_DEPTH = "exceeded maximum nesting depth"  # libyaml's own limit (1000 levels)

VALUE_FALLBACK_MAX_CHARS = 4096
"""Longest value text that the pure-Python parser reads again after libyaml refused it because of an
escape (``"\\ud800"``). That parser takes ~15 µs a character: longer texts keep libyaml's verdict."""
FILE_FALLBACK_MAX_CHARS = 256 * 1024
"""Longest config file that the pure-Python parser reads again after libyaml refused it, for PyYAML's
own messages; a longer file gets libyaml's (also with a line)."""


def _escape_refused(error: yaml.YAMLError) -> bool:
    return "escape" in str(getattr(error, "problem", "") or "")


def _obviously_safe(text: str) -> bool:
    """True when ``text`` can hold no anchor or alias and fewer than MAX_DEPTH levels of nesting."""
    if "&" in text or "*" in text:
        return False
    limit = VALUE_LIMITS.max_depth
    return len(text) < limit or sum(text.count(mark) for mark in _NESTING_MARKS) < limit


def _run(cls: type[Any], text: str) -> tuple[Any, Node | None]:
    loader = cls(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    finally:
        loader.dispose()


def _load(
    text: str,
    loaders: tuple[type[Any] | None, type[Any]],
    retry: Callable[[yaml.YAMLError], bool],
    *,
    c_refused: yaml.YAMLError | None = None,
) -> tuple[Any, Node | None]:
    """(value, root node): libyaml's events unless it refused the text (``c_refused``: it already
    did); then the pure-Python parser, when ``retry`` allows it."""
    c_loader, py_loader = loaders
    if c_loader is not None and c_refused is None:
        try:
            return _run(c_loader, text)
        except yaml.YAMLError as exc:
            c_refused = exc
    if c_refused is not None:
        if _LIBYAML_DEPTH in str(getattr(c_refused, "problem", "") or ""):
            mark = getattr(c_refused, "problem_mark", None)
            raise YamlLimitError(
                f"YAML nested deeper than {MAX_DEPTH} levels",
                None if mark is None else mark.line + 1,
                limit="MAX_DEPTH",
                maximum=MAX_DEPTH,
            ) from None
        if not retry(c_refused):
            raise c_refused
    return _run(py_loader, text)


def load_value(text: str) -> Any:
    """A value written as YAML text, within :data:`VALUE_LIMITS`.

    Raises :class:`yaml.YAMLError` when the text is not one YAML document, :class:`YamlLimitError`
    when it is over a limit (an anchor or alias, too deep).
    """

    def retry(error: yaml.YAMLError) -> bool:
        return len(text) <= VALUE_FALLBACK_MAX_CHARS and _escape_refused(error)

    refused: yaml.YAMLError | None = None
    if _FAST_LOADER is not None and _obviously_safe(text):
        try:
            return yaml.load(text, Loader=_FAST_LOADER)
        except yaml.YAMLError as exc:
            refused = exc  # the bounded libyaml loader would refuse it alike
    return _load(text, _VALUE_LOADERS, retry, c_refused=refused)[0]


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
"""Text that YAML reads as one plain scalar equal to the text: no indicator, quote, space or colon."""
_RESOLVER = yaml.resolver.Resolver()  # the loaders' resolver; resolve() reads only class tables
_STR_TAG = "tag:yaml.org,2002:str"


def is_plain_string(text: str) -> bool:
    """True when YAML reads ``text`` as exactly this string (a plain word that no implicit resolver
    turns into a number, boolean, null or timestamp): parsing it would give it back unchanged."""
    return (
        _PLAIN_WORD.fullmatch(text) is not None
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
    )


def parse_text_value(text: str) -> Any:
    """A value given as text: YAML (``10``, ``true``, ``[a, b]``, ``{k: v}``); text that is not valid
    YAML (or that a tag cannot build, ``!!int x``), and the empty text, stay as they are.

    Raises :class:`YamlLimitError` when the text is YAML over a limit (see :func:`load_value`).
    """
    if not text.strip() or is_plain_string(text):
        return text
    try:
        return load_value(text)
    except YamlLimitError:
        raise
    except Exception:  # not YAML, or a tag that cannot build its value: the text as given
        return text


def load_document(text: str) -> tuple[Any, Node | None]:
    """A config file's document and its root node (for line numbers), within :data:`FILE_LIMITS`.

    Raises :class:`yaml.YAMLError` (with the pure-Python parser's marks and messages) or
    :class:`YamlLimitError`.
    """
    return _load(text, _FILE_LOADERS, lambda _error: len(text) <= FILE_FALLBACK_MAX_CHARS)
