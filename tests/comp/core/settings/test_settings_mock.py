"""The settings test double behaves like the component for its users."""

from __future__ import annotations

import pytest

from comp.core.settings.def_ import Component, SettingsValueError
from comp.core.settings.mock import new_mock


def test_mock_implements_the_component() -> None:
    settings = new_mock({"log_level": "info", "api_key": "k"}, secrets={"api_key"}, refuse={"cmd_port"})
    assert isinstance(settings, Component)
    view = settings.get("api_key")
    assert view is not None and view.masked and view.value == "********"
    assert settings.set_from_text({"log_level": "debug"}) == 1
    assert settings.get("log_level") is not None
    with pytest.raises(SettingsValueError, match="cmd_port"):
        settings.set_from_text({"log_level": "info", "cmd_port": "x"})
    assert settings.list()[1] == 1
    assert settings.unset("log_level") == 2
    view = settings.get("log_level")
    assert view is not None and (view.value, view.source) == ("info", "file")
    assert settings.status().sequence_id == 2
