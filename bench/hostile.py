"""Values for ``Settings/SetSettings`` that a core agent must refuse with INVALID_ARGUMENT, and values
just inside its limits that it must accept.

Shared by ``make soak`` and the stateful end-to-end test. Every value is text, as the Settings API
takes it (parsed as YAML, or kept as given for string keys). The limits are the schema's defaults,
read from ``pkg.config.schema`` so that they follow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pkg.config.schema import default_schema

__all__ = [
    "TOTAL_MAX_BYTES",
    "VALUE_MAX_BYTES",
    "HostileWrite",
    "alias_bomb",
    "hostile_writes",
    "near_limit_text",
    "over_total_values",
    "oversized_text",
    "self_referencing_alias",
    "wrong_type_writes",
]


def _default_int(key: str) -> int:
    spec = default_schema().spec(key)
    assert spec is not None, f"{key} is not declared"
    return int(spec.default)


VALUE_MAX_BYTES = _default_int("config_limits.value_max_bytes")
"""Largest serialized value of one setting the core accepts (1 MiB)."""
TOTAL_MAX_BYTES = _default_int("config_limits.total_max_bytes")
"""Largest serialized snapshot of every setting (3 MiB)."""


@dataclass(frozen=True)
class HostileWrite:
    """One ``SetSettings`` call the core must refuse: ``kind`` names the attack in reports."""

    kind: str
    values: dict[str, str]


def alias_bomb(levels: int = 5, fan_out: int = 10, leaf: str = "lol-lol-lol-lol") -> str:
    """YAML of a few hundred bytes whose aliases expand to ``fan_out ** levels`` copies of ``leaf``
    (the default: 100,000 leaves, about 1.7 MB as JSON, beyond the value limit)."""
    lines = [f'l0: &l0 "{leaf}"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * fan_out)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "{" + ", ".join(lines) + "}"


def self_referencing_alias() -> str:
    """YAML of a list that contains itself: infinitely deep once expanded."""
    return "&loop [*loop]"


def near_limit_text(marker: str, margin: int = 4096, *, lead: str = "@") -> str:
    """Text ``margin`` bytes under the value limit: ``lead``, ``marker``, then filler. The default lead
    ``@`` cannot start a YAML token, so the text is kept as it is without being scanned; a letter
    makes it one long plain YAML scalar."""
    body = VALUE_MAX_BYTES - margin - len(marker) - len(lead)
    return f"{lead}{marker}" + "n" * body


def oversized_text(marker: str, excess: int = 1024) -> str:
    """Text ``excess`` bytes over the value limit."""
    return f"@{marker}" + "o" * (VALUE_MAX_BYTES + excess)


def over_total_values(prefix: str, count: int = 4) -> dict[str, str]:
    """``count`` values each under the value limit whose sum exceeds the total limit (and still fits
    one gRPC request of 4 MiB)."""
    each = TOTAL_MAX_BYTES // count + 64 * 1024
    assert each < VALUE_MAX_BYTES and each * count < 4 * 1024 * 1024 - 64 * 1024
    return {f"{prefix}{i}": f"@total-{i}-" + "t" * each for i in range(count)}


def wrong_type_writes() -> list[HostileWrite]:
    """Values of the wrong type, or out of range, for declared keys."""
    return [
        HostileWrite("wrong_type", {"cmd_port": "not-a-port"}),
        HostileWrite("wrong_type", {"cmd_port": "70000"}),
        HostileWrite("wrong_type", {"logs_config.enabled": "maybe"}),
        HostileWrite("wrong_type", {"log_level": "loud"}),
        HostileWrite("wrong_type", {"remote_agent.registry.idle_timeout": "soon"}),
        HostileWrite("wrong_type", {"remote_agent.configstream.queue_size": "0"}),
        HostileWrite("wrong_type", {"tags": "{not: a list}"}),
    ]


def hostile_writes(prefix: str) -> Iterator[HostileWrite]:
    """One of each hostile kind, on keys under ``prefix`` (endless: the kinds in turn)."""
    wrong = wrong_type_writes()
    turn = 0
    while True:
        yield HostileWrite("alias_bomb", {f"{prefix}bomb": alias_bomb()})
        yield HostileWrite("self_alias", {f"{prefix}loop": self_referencing_alias()})
        yield HostileWrite("oversized", {f"{prefix}oversized": oversized_text("big")})
        yield wrong[turn % len(wrong)]
        # A valid key beside a hostile one: the whole call is refused, the valid key is not applied.
        yield HostileWrite("mixed", {f"{prefix}fine": "fine", f"{prefix}bomb": alias_bomb()})
        turn += 1
