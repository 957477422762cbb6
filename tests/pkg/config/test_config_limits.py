"""Size limits: one value, the total of a snapshot, the limits' own consistency, restart-only keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkg.config.change import ConfigChange
from pkg.config.errors import ConfigLimitError, ConfigRestartRequiredError
from pkg.config.limits import (
    GRPC_MAX_MESSAGE_SIZE_KEY,
    SNAPSHOT_FRAMING,
    TOTAL_MAX_BYTES_KEY,
    VALUE_MAX_BYTES_KEY,
    ConfigLimits,
)
from pkg.config.loader import build_config
from pkg.config.model import LayeredConfig
from pkg.config.schema import default_schema
from pkg.config.sources import Source
from pkg.config.wire_size import setting_size, value_size

VALUE_MAX = 2048
TOTAL_MAX = 8192


def small_config() -> LayeredConfig:
    return LayeredConfig(limits=ConfigLimits(VALUE_MAX, TOTAL_MAX, 64 * 1024))


def text_of_setting_size(key: str, source: Source, size: int) -> str:
    """A text whose setting (key, source, value) is exactly ``size`` bytes in a snapshot."""
    length = size
    while setting_size(key, source.value, value_size("x" * length)) > size:
        length -= 1
    text = "x" * length
    assert setting_size(key, source.value, value_size(text)) == size
    return text


def fill(config: LayeredConfig, room: int, prefix: str) -> list[str]:
    """Settings at agent-runtime (``prefix0``, ``prefix1``...) of ``room`` bytes in all."""
    keys: list[str] = []
    while room > 0:
        size = min(VALUE_MAX, room)
        if 0 < room - size < 64:  # leave room for one more whole setting
            size = room - 64
        key = f"{prefix}{len(keys)}"
        config.set(key, text_of_setting_size(key, Source.AGENT_RUNTIME, size), Source.AGENT_RUNTIME)
        keys.append(key)
        room -= size
    return keys


def recomputed_total(config: LayeredConfig) -> int:
    settings, _ = config.flattened_with_sequence_id()
    return sum(setting_size(k, s.source.value, value_size(s.value)) for k, s in settings.items())


def recording(config: LayeredConfig) -> list[ConfigChange]:
    changes: list[ConfigChange] = []
    config.on_update(changes.append)
    return changes


def test_a_value_at_the_limit_is_accepted_one_byte_more_is_refused_and_changes_nothing() -> None:
    config = small_config()
    changes = recording(config)
    fits = text_of_setting_size("custom.v", Source.AGENT_RUNTIME, VALUE_MAX)
    config.set("custom.v", fits, Source.AGENT_RUNTIME)
    assert config.get("custom.v") == fits and config.sequence_id == 1
    with pytest.raises(ConfigLimitError) as info:
        config.set_many({"log_level": "debug", "custom.v": fits + "x"}, Source.AGENT_RUNTIME)
    message = str(info.value)
    assert message == (
        f"value of 'custom.v' at agent-runtime is {VALUE_MAX + 1} bytes serialized (key, source and value), "
        f"over {VALUE_MAX_BYTES_KEY} ({VALUE_MAX})"
    )
    assert (info.value.key, info.value.limit, info.value.maximum) == (
        "custom.v",
        VALUE_MAX_BYTES_KEY,
        VALUE_MAX,
    )
    assert fits not in message  # the value itself is never shown
    assert config.get("custom.v") == fits and config.get("log_level") == "info"
    assert config.sequence_id == 1 and len(changes) == 1


def test_the_size_counts_what_goes_on_the_wire_not_the_text() -> None:
    config = small_config()
    many_numbers = list(range(300))  # 300 * 11 bytes as Values: over 2048 although short as text
    assert len(str(many_numbers)) < VALUE_MAX
    with pytest.raises(ConfigLimitError, match=VALUE_MAX_BYTES_KEY):
        config.set("custom.numbers", many_numbers, Source.FILE)
    with pytest.raises(ConfigLimitError, match=VALUE_MAX_BYTES_KEY):  # every leaf of a mapping
        config.set("custom", {"a": 1, "b": {"c": many_numbers}}, Source.FILE)
    assert config.get("custom") is None


def test_the_total_is_kept_up_to_date_and_a_change_crossing_it_is_refused() -> None:
    config = small_config()
    changes = recording(config)
    assert config.total_bytes == recomputed_total(config)
    keys = fill(config, TOTAL_MAX - config.total_bytes, "custom.k")
    assert config.total_bytes == TOTAL_MAX == recomputed_total(config)  # exactly at the limit
    last = keys[-1]
    room = len(config.get_string(last))
    sequence_id = config.sequence_id

    with pytest.raises(ConfigLimitError) as info:
        config.set("custom.more", "", Source.AGENT_RUNTIME)
    assert str(info.value).startswith("setting 'custom.more' at agent-runtime would make the settings ")
    assert str(info.value).endswith(f"bytes serialized, over {TOTAL_MAX_BYTES_KEY} ({TOTAL_MAX})")
    assert info.value.limit == TOTAL_MAX_BYTES_KEY
    with pytest.raises(ConfigLimitError, match=TOTAL_MAX_BYTES_KEY):  # a longer value at a full total
        config.set(last, "x" * (room + 1), Source.AGENT_RUNTIME)
    assert config.sequence_id == sequence_id and config.get("custom.more") is None
    assert config.total_bytes == TOTAL_MAX

    # What shrinks the total is always accepted; then there is room again.
    config.set(last, "", Source.AGENT_RUNTIME)
    config.unset_for_source(keys[0], Source.AGENT_RUNTIME)
    config.set("custom.more", "x", Source.AGENT_RUNTIME)
    assert config.total_bytes == recomputed_total(config) < TOTAL_MAX
    assert len(changes) == config.sequence_id


def test_an_unset_that_would_bring_back_a_bigger_value_over_the_total_is_refused() -> None:
    config = small_config()
    big = text_of_setting_size("custom.v", Source.FILE, VALUE_MAX)
    config.set("custom.v", big, Source.FILE)
    config.set("custom.v", "small", Source.AGENT_RUNTIME)  # hides the file's value: the total shrinks
    fillers = fill(config, TOTAL_MAX - config.total_bytes, "custom.filler")
    sequence_id = config.sequence_id
    with pytest.raises(ConfigLimitError, match=r"unsetting 'custom.v' at agent-runtime would make .* over"):
        config.unset_for_source("custom.v", Source.AGENT_RUNTIME)
    assert config.get("custom.v") == "small" and config.sequence_id == sequence_id
    config.unset_for_source(fillers[0], Source.AGENT_RUNTIME)
    config.unset_for_source("custom.v", Source.AGENT_RUNTIME)
    assert config.get("custom.v") == big
    assert config.total_bytes == recomputed_total(config)


def test_limits_that_cannot_hold_a_snapshot_in_one_message_are_refused() -> None:
    ConfigLimits(1024, 4 * 1024 * 1024 - SNAPSHOT_FRAMING, 4 * 1024 * 1024)  # exactly fits
    with pytest.raises(ConfigLimitError) as info:
        ConfigLimits(1024, 4 * 1024 * 1024 - SNAPSHOT_FRAMING + 1, 4 * 1024 * 1024)
    message = str(info.value)
    assert TOTAL_MAX_BYTES_KEY in message and GRPC_MAX_MESSAGE_SIZE_KEY in message and "\n" not in message
    assert (info.value.limit, info.value.maximum) == (GRPC_MAX_MESSAGE_SIZE_KEY, 4 * 1024 * 1024)


def test_startup_refuses_a_total_that_a_message_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text("config_limits:\n  total_max_bytes: 4194304\n", encoding="utf-8")
    with pytest.raises(ConfigLimitError, match=f"{TOTAL_MAX_BYTES_KEY} .* over {GRPC_MAX_MESSAGE_SIZE_KEY}"):
        build_config(default_schema(), path, {})
    # Raising the message size (here from the environment) makes it fit.
    config = build_config(default_schema(), path, {"DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE": "8388608"})
    assert config.limits == ConfigLimits(1024 * 1024, 4 * 1024 * 1024, 8 * 1024 * 1024)


def test_startup_applies_the_limits_it_reads_to_the_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text(f"config_limits:\n  value_max_bytes: 1024\ncustom: {'x' * 1024}\n", encoding="utf-8")
    with pytest.raises(ConfigLimitError, match=r"value of 'custom' at file is \d+ bytes .* \(1024\)"):
        build_config(default_schema(), path, {})
    config = build_config(default_schema(), path, {"DD_CONFIG_LIMITS_VALUE_MAX_BYTES": "4096"})
    assert config.limits.value_max_bytes == 4096 and len(config.get_string("custom")) == 1024
    with pytest.raises(ConfigLimitError, match=r"value of 'hostname' at environment-variable"):
        build_config(default_schema(), None, {"DD_HOSTNAME": "h" * 2 * 1024 * 1024})


def test_the_limits_are_read_at_startup_and_need_a_restart_to_change(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text("config_limits:\n  value_max_bytes: 2048\n", encoding="utf-8")
    config = build_config(default_schema(), path, {})
    sequence_id = config.sequence_id
    for key, value in ((VALUE_MAX_BYTES_KEY, 4096), (TOTAL_MAX_BYTES_KEY, 1024 * 1024)):
        with pytest.raises(ConfigRestartRequiredError) as info:
            config.set(key, value, Source.AGENT_RUNTIME)
        assert str(info.value).startswith(
            f"cannot change {key!r} while the agent runs: it is read at startup"
        )
    with pytest.raises(ConfigRestartRequiredError, match=GRPC_MAX_MESSAGE_SIZE_KEY):
        config.set("agent_ipc", {"grpc_max_message_size": 1 << 23}, Source.REMOTE_CONFIG)
    assert config.sequence_id == sequence_id and config.limits.value_max_bytes == 2048
    # The value in force may be set again, at any source, and unset when what shows through agrees.
    config.set(VALUE_MAX_BYTES_KEY, 2048, Source.AGENT_RUNTIME)
    config.set(VALUE_MAX_BYTES_KEY, 9999, Source.ENVIRONMENT_VARIABLE)  # hidden by agent-runtime
    with pytest.raises(ConfigRestartRequiredError):
        config.unset_for_source(VALUE_MAX_BYTES_KEY, Source.AGENT_RUNTIME)  # 9999 would show through
    config.unset_for_source(VALUE_MAX_BYTES_KEY, Source.ENVIRONMENT_VARIABLE)
    config.unset_for_source(VALUE_MAX_BYTES_KEY, Source.AGENT_RUNTIME)
    assert (
        config.get_int(VALUE_MAX_BYTES_KEY) == 2048 and config.get_source(VALUE_MAX_BYTES_KEY) is Source.FILE
    )


def test_a_config_built_without_limits_uses_the_declared_defaults() -> None:
    config = LayeredConfig()
    assert config.limits == ConfigLimits(1024 * 1024, 3 * 1024 * 1024, 4 * 1024 * 1024)
    assert config.total_bytes == recomputed_total(config) < 4096
