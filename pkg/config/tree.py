"""Flattened leaf keys and the nested views of them.

Settings are stored as leaves under dotted keys (``logs_config.enabled``). A nested mapping becomes
leaves, except where ``is_leaf`` says the key itself holds a mapping (a key declared with a map type).
Reading a prefix of leaves (``logs_config``) gives them back as a nested dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["find_nesting", "flatten", "join_key", "parent_keys", "subtree"]


def join_key(prefix: str, name: object) -> str:
    """``prefix.name`` (or ``name`` when the prefix is empty)."""
    return f"{prefix}.{name}" if prefix else str(name)


def parent_keys(key: str) -> Iterator[str]:
    """The groups ``key`` lies under, outermost first: ``a``, ``a.b`` for ``a.b.c``."""
    index = key.find(".")
    while index != -1:
        yield key[:index]
        index = key.find(".", index + 1)


def find_nesting(keys: Iterable[str]) -> tuple[str, str] | None:
    """A pair ``(leaf, deeper)`` of ``keys`` where ``deeper`` lies under ``leaf`` (``x``, ``x.y``),
    or None when the keys form a tree."""
    names = set(keys)
    for key in sorted(names):
        for parent in parent_keys(key):
            if parent in names:
                return parent, key
    return None


def flatten(
    value: Mapping[Any, Any],
    prefix: str = "",
    *,
    canonical: Callable[[str], str] = str.lower,
    is_leaf: Callable[[str], bool] = lambda _key: False,
) -> dict[str, Any]:
    """Leaves of a nested mapping under dotted keys.

    ``canonical`` maps each joined key to its stored form (lower case, aliases resolved); a nested
    mapping under a key for which ``is_leaf`` is true stays one value. Empty nested mappings give no
    leaf.
    """
    leaves: dict[str, Any] = {}
    for name, child in value.items():
        key = canonical(join_key(prefix, name))
        if isinstance(child, Mapping) and not is_leaf(key):
            leaves.update(flatten(child, key, canonical=canonical, is_leaf=is_leaf))
        else:
            leaves[key] = child
    return leaves


def subtree(leaves: Iterable[tuple[str, Any]], prefix: str) -> dict[str, Any] | None:
    """The leaves under ``prefix.`` as a nested dict, or None when there are none.

    A key that is both a leaf and a prefix of deeper leaves keeps its leaf value in the nested view.
    """
    start = prefix + "."
    nested: dict[str, Any] = {}
    branches = {id(nested)}  # dicts built here, as opposed to leaf values that happen to be dicts
    matching = sorted(((k, v) for k, v in leaves if k.startswith(start)), key=lambda item: item[0])
    for key, value in matching:
        parts = key[len(start) :].split(".")
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if part not in node:
                child = {}
                node[part] = child
                branches.add(id(child))
            elif not (isinstance(child, dict) and id(child) in branches):
                break  # a leaf sits on this path: it wins over the deeper keys
            node = child
        else:
            node.setdefault(parts[-1], value)
    return nested if matching else None
