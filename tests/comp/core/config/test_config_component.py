from __future__ import annotations

from pathlib import Path

import pytest

from comp.core.config.container import ConfigContainer
from comp.core.config.def_ import (
    Component,
    ConfigChange,
    ConfigFileError,
    ConfigLimitError,
    ConfigValueError,
    Params,
    Source,
)
from comp.core.config.impl import Requires, new_component
from comp.core.config.mock import new_mock
from pkg.config.schema import KeySpec, ValueType, default_schema


def test_new_component_reads_file_env_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text("cmd_port: 6000\nsite: file.example\n", encoding="utf-8")
    params = Params(config_file=path, environ={"DD_SITE": "env.example"}, overrides={"hostname": "cli-host"})
    config = new_component(Requires(params=params)).comp
    assert isinstance(config, Component)
    assert config.get_int("cmd_port") == 6000
    assert (config.get_string("site"), config.get_source("site")) == (
        "env.example",
        Source.ENVIRONMENT_VARIABLE,
    )
    assert (config.get_string("hostname"), config.get_source("hostname")) == ("cli-host", Source.CLI)
    assert config.config_file_used() == path


def test_new_component_reads_os_environ_when_no_environ_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_HOSTNAME", "from-os")
    assert new_component(Requires(Params())).comp.get_string("hostname") == "from-os"
    assert new_component(Requires(Params(environ={}))).comp.get_string("hostname") == ""


def test_new_component_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read"):
        new_component(Requires(Params(config_file=tmp_path / "absent.yaml", environ={})))
    with pytest.raises(ConfigValueError, match="DD_CMD_PORT"):
        new_component(Requires(Params(environ={"DD_CMD_PORT": "many"})))


def test_new_component_with_an_extended_schema() -> None:
    schema = default_schema()
    schema.declare(KeySpec("my_binary.batch_size", ValueType.INT, 100))
    params = Params(environ={"DD_MY_BINARY_BATCH_SIZE": "7"})
    assert new_component(Requires(params, schema)).comp.get_int("my_binary.batch_size") == 7


def test_mock_is_filled_with_one_call_and_behaves_like_the_real_one() -> None:
    config = new_mock({"cmd_port": "0", "remote_agent": {"registry": {"idle_timeout": "1s"}}})
    assert isinstance(config, Component)
    assert config.get_int("cmd_port") == 0
    assert config.get_source("remote_agent.registry.idle_timeout") is Source.FILE
    changes: list[ConfigChange] = []
    config.on_update(changes.append)
    config.set("log_level", "debug", Source.AGENT_RUNTIME)
    assert [(c.key, c.new) for c in changes] == [("log_level", "debug")]
    with pytest.raises(ConfigValueError):
        new_mock({"cmd_port": "many"})


def test_mock_source_schema_and_file() -> None:
    schema = default_schema()
    schema.declare(KeySpec("extra", ValueType.BOOL, False))
    config = new_mock(
        {"extra": "true"}, Source.REMOTE_CONFIG, schema=schema, config_file=Path("/x/datadog.yaml")
    )
    assert (config.get_bool("extra"), config.get_source("extra")) == (True, Source.REMOTE_CONFIG)
    assert config.config_file_used() == Path("/x/datadog.yaml")
    empty = new_mock()
    assert empty.sequence_id == 0 and empty.get_string("site") == "datadoghq.com"


def test_container_defaults_and_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DD_CMD_PORT", raising=False)
    container = ConfigContainer()
    config = container.component()
    assert config is container.component()  # one config per container
    assert config.get_int("cmd_port") == 5001

    schema = default_schema()
    schema.declare(KeySpec("extra", ValueType.INT, 3))
    configured = ConfigContainer(params=Params(environ={}, overrides={"cmd_port": 1}), schema=schema)
    assert configured.component().get_int("cmd_port") == 1
    assert configured.component().get_int("extra") == 3


def test_new_component_refuses_limits_that_a_snapshot_message_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text("agent_ipc:\n  grpc_max_message_size: 1048576\n", encoding="utf-8")
    with pytest.raises(ConfigLimitError) as info:
        new_component(Requires(Params(config_file=path, environ={})))
    message = str(info.value)
    assert "config_limits.total_max_bytes (3145728)" in message
    assert "agent_ipc.grpc_max_message_size (1048576)" in message and "\n" not in message
    config = new_component(
        Requires(Params(config_file=path, environ={"DD_CONFIG_LIMITS_TOTAL_MAX_BYTES": "65536"}))
    )
    assert config.comp.limits.total_max_bytes == 65536


def test_the_mock_reads_its_limits_like_startup() -> None:
    config = new_mock({"config_limits.value_max_bytes": 4096, "hostname": "h" * 3000})
    assert config.limits.value_max_bytes == 4096
    with pytest.raises(ConfigLimitError, match=r"config_limits\.value_max_bytes"):
        new_mock({"hostname": "h" * 2 * 1024 * 1024})


def test_the_mock_takes_refused_values_of_unchecked_keys_only() -> None:
    config = new_mock(
        {"log_level": "verbose", "telemetry.port": -1}, unchecked=["LOG_LEVEL", "telemetry.port"]
    )
    assert (config.get_string("log_level"), config.get_int("telemetry.port")) == ("verbose", -1)
    config.set("log_level", "louder", Source.CLI)
    assert config.get_string("log_level") == "louder"
    with pytest.raises(ConfigValueError, match=r"telemetry\.port"):
        config.set("telemetry.port", "many", Source.CLI)  # the type is still checked
    with pytest.raises(ConfigValueError, match="cmd_port"):
        config.set("cmd_port", -1, Source.CLI)  # other keys keep their bounds
    assert config.get_int("remote_agent.configstream.queue_size") == config.get_int(
        "config_stream.queue_size"
    )
    with pytest.raises(ValueError, match=r"unchecked keys must be declared keys: \['no_such_key'\]"):
        new_mock(unchecked=["no_such_key"])


def test_the_mock_counts_its_subscribers() -> None:
    config = new_mock()
    first, second = config.on_update(lambda _change: None), config.on_update(lambda _change: None)
    assert config.subscriber_count == 2
    first()
    first()  # unsubscribing twice changes nothing
    assert config.subscriber_count == 1
    second()
    assert config.subscriber_count == 0
