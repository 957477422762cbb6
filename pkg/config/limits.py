"""Size limits of the configuration, read once at startup.

The core agent sends every effective setting in one snapshot message, which a client refuses when it
is bigger than its gRPC receive limit (4 MiB by default). So:

- ``config_limits.value_max_bytes``: one setting, serialized as the stream sends it (key, source and
  ``google.protobuf.Value``, see :mod:`pkg.config.wire_size`), may not be bigger;
- ``config_limits.total_max_bytes``: the settings of a snapshot together may not be bigger;
- ``agent_ipc.grpc_max_message_size`` must hold ``total_max_bytes`` plus :data:`SNAPSHOT_FRAMING`
  (the snapshot's other fields: origin, sequence id, epoch; and the event around it).

These three are read at startup; changing them while the agent runs is refused ("needs a restart").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pkg.config import keys
from pkg.config.errors import ConfigLimitError

__all__ = [
    "CONFIG_FILE_MAX_BYTES",
    "GRPC_MAX_MESSAGE_SIZE_KEY",
    "RESTART_KEYS",
    "SNAPSHOT_FRAMING",
    "TOTAL_MAX_BYTES_KEY",
    "VALUE_MAX_BYTES_KEY",
    "ConfigLimits",
]

VALUE_MAX_BYTES_KEY = keys.VALUE_MAX_BYTES
TOTAL_MAX_BYTES_KEY = keys.TOTAL_MAX_BYTES
GRPC_MAX_MESSAGE_SIZE_KEY = keys.GRPC_MAX_MESSAGE_SIZE
RESTART_KEYS = frozenset({VALUE_MAX_BYTES_KEY, TOTAL_MAX_BYTES_KEY, GRPC_MAX_MESSAGE_SIZE_KEY})
"""Settings read only at startup."""

SNAPSHOT_FRAMING = 4096
"""Bytes of a snapshot message that are not its settings: the ``ConfigEvent`` tag and length (6),
``origin`` (the config file's base name, at most 255 bytes, + 3), ``sequence_id`` (at most 11),
``epoch`` (a 36-character UUID, + 3), with room for later fields."""

CONFIG_FILE_MAX_BYTES = 16 * 1024 * 1024
"""Largest config file read; checked before the file is read whole."""


@dataclass(frozen=True)
class ConfigLimits:
    """The limits in force. Construction checks that a snapshot within ``total_max_bytes`` fits in
    a gRPC message (raises :class:`ConfigLimitError` naming both keys otherwise)."""

    value_max_bytes: int
    total_max_bytes: int
    grpc_max_message_size: int

    def __post_init__(self) -> None:
        needed = self.total_max_bytes + SNAPSHOT_FRAMING
        if needed > self.grpc_max_message_size:
            raise ConfigLimitError(
                TOTAL_MAX_BYTES_KEY,
                f"{TOTAL_MAX_BYTES_KEY} ({self.total_max_bytes}) plus {SNAPSHOT_FRAMING} bytes of snapshot "
                f"framing is {needed}, over {GRPC_MAX_MESSAGE_SIZE_KEY} ({self.grpc_max_message_size}): "
                "a full snapshot could not be sent; lower the first or raise the second",
                limit=GRPC_MAX_MESSAGE_SIZE_KEY,
                maximum=self.grpc_max_message_size,
            )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ConfigLimits:
        """The limits held by ``settings`` (validated values under their canonical keys)."""
        return cls(
            value_max_bytes=int(settings[VALUE_MAX_BYTES_KEY]),
            total_max_bytes=int(settings[TOTAL_MAX_BYTES_KEY]),
            grpc_max_message_size=int(settings[GRPC_MAX_MESSAGE_SIZE_KEY]),
        )

    def in_force(self, key: str) -> int:
        """The value in force of one of :data:`RESTART_KEYS`."""
        return {
            VALUE_MAX_BYTES_KEY: self.value_max_bytes,
            TOTAL_MAX_BYTES_KEY: self.total_max_bytes,
            GRPC_MAX_MESSAGE_SIZE_KEY: self.grpc_max_message_size,
        }[key]
