from __future__ import annotations

import pytest

from comp.core.config.mock import new_mock as new_config_mock
from comp.core.configstream.mock import MockConfigStream
from comp.core.configstreamserver.container import ConfigStreamServerContainer
from comp.core.configstreamserver.def_ import Component
from comp.core.configstreamserver.impl import SERVICE_NAME, Requires, new_component
from comp.core.configstreamserver.impl.handler import ConfigStreamHandler
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from pkg.config import keys
from pkg.config.durations import parse_duration
from pkg.config.reader import MissingSettingError
from pkg.config.schema import Schema, declared_default
from pkg.util.lifecycle import Lifecycle


def test_container_provides_the_handler_and_its_grpc_service() -> None:
    lifecycle = Lifecycle()
    container = ConfigStreamServerContainer(
        lifecycle=lifecycle,
        config=new_config_mock({"remote_agent.configstream.sleep_interval": "250ms"}),
        configstream=MockConfigStream(),
        registry=MockRemoteAgentRegistry(),
    )
    component = container.component()
    assert isinstance(component, Component)
    assert isinstance(component, ConfigStreamHandler)
    assert component.sleep_interval == 0.25
    assert container.grpc_service().names == (SERVICE_NAME,) == ("datadog.api.v1.AgentSecure",)
    assert lifecycle.hook_names == ["config stream server"]


def test_sleep_interval_defaults_to_its_declaration() -> None:
    comp = new_component(
        Requires(Lifecycle(), new_config_mock(), MockConfigStream(), MockRemoteAgentRegistry())
    ).comp
    assert isinstance(comp, ConfigStreamHandler)
    declared = parse_duration(declared_default(keys.CONFIGSTREAM_SLEEP_INTERVAL)).total_seconds()
    assert comp.sleep_interval == declared == 0.010


def test_a_config_without_the_key_is_refused_naming_it() -> None:
    config = new_config_mock(schema=Schema())
    with pytest.raises(MissingSettingError, match=r"remote_agent\.configstream\.sleep_interval"):
        new_component(Requires(Lifecycle(), config, MockConfigStream(), MockRemoteAgentRegistry()))
