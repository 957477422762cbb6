"""A tiny in-memory stand-in for the config component that accepts any value (the log and telemetry
tests feed it values the real schema would refuse, to check the components still cope)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pkg.config.change import ConfigChange, Setting, UpdateCallback
from pkg.config.sources import Source
from pkg.scrub import is_secret_key


class FakeConfig:
    """Values in a dict; ``set`` notifies the ``on_update`` callbacks like the real config."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = dict(values)
        self._callbacks: list[UpdateCallback] = []
        self._sequence_id = 0

    def get_string(self, key: str) -> str:
        return str(self._values.get(key, ""))

    def get_int(self, key: str) -> int:
        return int(self._values.get(key, 0))

    def get_bool(self, key: str) -> bool:
        return bool(self._values.get(key, False))

    def is_secret(self, key: str) -> bool:
        return is_secret_key(key)

    def flattened_with_sequence_id(self) -> tuple[dict[str, Setting], int]:
        settings = {key: Setting(value, Source.CLI) for key, value in self._values.items()}
        return settings, self._sequence_id

    @property
    def subscriber_count(self) -> int:
        return len(self._callbacks)

    def set(self, key: str, value: Any, source: Source = Source.CLI) -> None:
        old = self._values.get(key)
        self._values[key] = value
        self._sequence_id += 1
        change = ConfigChange(key, old, value, source, self._sequence_id)
        for callback in list(self._callbacks):
            callback(change)

    def on_update(self, callback: UpdateCallback) -> Callable[[], None]:
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)


@pytest.fixture
def make_config() -> Callable[[dict[str, Any]], FakeConfig]:
    """``make_config({"log_level": "debug"})``; no schema, no validation."""
    return FakeConfig
