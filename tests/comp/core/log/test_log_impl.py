"""The log component: root logger configured from the config, changed live, secrets masked."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from comp.core.config import def_ as config_def
from comp.core.config.mock import MockConfig, new_mock
from comp.core.log.container import LogContainer
from comp.core.log.def_ import Component
from comp.core.log.impl import Logging, Requires, new_component
from pkg.config.errors import ConfigValueError
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle

API_KEY = "0123456789abcdef0123456789abcdef"

_log = logging.getLogger("tests.log_component")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _config(settings: dict[str, Any]) -> MockConfig:
    """A config that also holds log levels the schema refuses (the component must cope with them)."""
    return new_mock(settings, unchecked=["log_level"])


def _build(config: config_def.Component) -> tuple[Lifecycle, Logging]:
    lifecycle = Lifecycle()
    provides = new_component(Requires(lifecycle=lifecycle, config=config))
    assert isinstance(provides.comp, Logging)
    return lifecycle, provides.comp


@pytest.mark.parametrize(
    ("value", "name", "level"),
    [
        ("trace", "trace", logging.DEBUG),
        ("debug", "debug", logging.DEBUG),
        ("INFO", "info", logging.INFO),
        ("warn", "warn", logging.WARNING),
        ("warning", "warning", logging.WARNING),
        ("error", "error", logging.ERROR),
        ("critical", "critical", logging.CRITICAL),
        ("off", "off", logging.CRITICAL + 10),
        ("", "info", logging.INFO),
    ],
)
async def test_level_from_config(value: str, name: str, level: int) -> None:
    lifecycle, component = _build(_config({"log_level": value}))
    await lifecycle.start()
    try:
        assert component.level == name
        assert logging.getLogger().level == level
    finally:
        await lifecycle.stop()


async def test_records_go_to_stderr_with_time_level_and_logger_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lifecycle, _ = _build(_config({"log_level": "info"}))
    await lifecycle.start()
    try:
        _log.info("hello %s", "world")
        _log.debug("not shown")
    finally:
        await lifecycle.stop()

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \| INFO \| tests\.log_component \| hello world", lines[0]
    )


async def test_level_changes_live_from_any_thread(capsys: pytest.CaptureFixture[str]) -> None:
    config = _config({"log_level": "info"})
    lifecycle, component = _build(config)
    await lifecycle.start()
    try:
        writer = threading.Thread(target=config.set, args=("log_level", "error", Source.CLI))
        writer.start()
        writer.join(10)
        assert component.level == "error"
        assert logging.getLogger().level == logging.ERROR
        _log.warning("hidden warning")

        config.set("log_level", "debug", Source.CLI)
        assert logging.getLogger().level == logging.DEBUG
        _log.debug("visible debug")
    finally:
        await lifecycle.stop()

    err = capsys.readouterr().err
    assert "hidden warning" not in err
    assert "visible debug" in err


async def test_invalid_level_in_an_update_keeps_the_old_one(capsys: pytest.CaptureFixture[str]) -> None:
    config = _config({"log_level": "info"})
    lifecycle, component = _build(config)
    await lifecycle.start()
    try:
        config.set("log_level", "verbose", Source.CLI)

        assert component.level == "info"
        assert logging.getLogger().level == logging.INFO
    finally:
        await lifecycle.stop()

    err = capsys.readouterr().err
    assert "WARNING" in err and "'verbose'" in err and "log_level" in err


def test_invalid_level_at_construction_names_key_and_value() -> None:
    with pytest.raises(ConfigValueError, match=r"'log_level'.*'verbose'.*one of trace"):
        _build(_config({"log_level": "verbose"}))


async def test_api_key_is_masked_and_follows_changes(capsys: pytest.CaptureFixture[str]) -> None:
    config = _config({"log_level": "info", "api_key": API_KEY})
    lifecycle, _ = _build(config)
    await lifecycle.start()
    try:
        _log.info("using key %s for %s", API_KEY, "intake")
        _log.info(f"inline {API_KEY} twice {API_KEY}")
        try:
            raise ValueError(f"rejected key {API_KEY}")
        except ValueError:
            _log.exception("request failed")
        config.set("api_key", "fedcba9876543210", Source.CLI)
        _log.info("new key fedcba9876543210")
    finally:
        await lifecycle.stop()

    err = capsys.readouterr().err
    assert API_KEY not in err
    assert "fedcba9876543210" not in err
    shown = "*" * 27 + "bcdef"
    assert f"using key {shown} for intake" in err
    assert f"inline {shown} twice {shown}" in err
    assert f"ValueError: rejected key {shown}" in err
    assert "new key ********\n" in err


async def test_short_api_key_is_not_masked(capsys: pytest.CaptureFixture[str]) -> None:
    lifecycle, _ = _build(_config({"log_level": "info", "api_key": "abcd"}))
    await lifecycle.start()
    try:
        _log.info("abcd is too short to be a key")
    finally:
        await lifecycle.stop()

    assert "abcd is too short to be a key" in capsys.readouterr().err


async def test_stop_and_start_do_not_stack_handlers() -> None:
    config = _config({"log_level": "debug"})
    root = logging.getLogger()
    before_handlers, before_level = len(root.handlers), root.level
    lifecycle, component = _build(config)

    for _ in range(2):
        await lifecycle.start()
        assert len(root.handlers) == before_handlers + 1
        assert config.subscriber_count == 1
        await lifecycle.stop()
        assert len(root.handlers) == before_handlers
        assert root.level == before_level
        assert config.subscriber_count == 0
        assert component.handlers == ()

    config.set("log_level", "error", Source.CLI)
    assert root.level == before_level


async def test_a_new_instance_replaces_a_leftover_handler() -> None:
    first_lc, first = _build(_config({"log_level": "info"}))
    second_lc, second = _build(_config({"log_level": "info"}))
    await first_lc.start()
    [first_handler] = first.handlers
    handler_type = type(first_handler)
    await second_lc.start()
    try:
        assert [h for h in logging.getLogger().handlers if type(h) is handler_type] == list(second.handlers)
    finally:
        await second_lc.stop()
        await first_lc.stop()
    assert not [h for h in logging.getLogger().handlers if type(h) is handler_type]


async def test_container_builds_the_component_and_registers_its_hook() -> None:
    lifecycle = Lifecycle()
    container = LogContainer(lifecycle=lifecycle, config=_config({"log_level": "warn"}))

    component = container.component()

    assert isinstance(component, Component)
    assert component.level == "warn"
    assert lifecycle.hook_names == ["log"]
