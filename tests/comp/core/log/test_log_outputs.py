"""Log outputs from the real config: a rolled file, stderr on or off, JSON lines; every key live.

The tests read the files the component writes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from comp.core.config.def_ import Params
from comp.core.config.impl import Requires as ConfigRequires
from comp.core.config.impl import new_component as new_config
from comp.core.log.impl import Logging, Requires, new_component
from pkg.config.errors import ConfigValueError
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle, LifecycleError

_log = logging.getLogger("tests.log_outputs")
RUNTIME = Source.AGENT_RUNTIME


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _config(tmp_path: Path, yaml: str) -> object:
    path = tmp_path / "datadog.yaml"
    path.write_text(yaml)
    return new_config(ConfigRequires(Params(config_file=path, environ={}))).comp


def _files(directory: Path, pattern: str) -> dict[str, str]:
    return {path.name: path.read_text() for path in directory.glob(pattern)}


async def _started(config: object) -> tuple[Lifecycle, Logging]:
    lifecycle = Lifecycle()
    component = new_component(Requires(lifecycle=lifecycle, config=config)).comp  # type: ignore[arg-type]
    await lifecycle.start()
    assert isinstance(component, Logging)
    return lifecycle, component


async def test_records_go_to_the_file_and_not_to_stderr_when_the_console_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / "agent.log"
    config = _config(tmp_path, f"log_file: {log_file}\nlog_to_console: false\n")
    lifecycle, _ = await _started(config)
    try:
        _log.info("to the file")
    finally:
        await lifecycle.stop()
    [line] = log_file.read_text().splitlines()
    assert line.endswith("| INFO | tests.log_outputs | to the file")
    assert capsys.readouterr().err == ""


async def test_the_file_is_rolled_at_max_size_keeping_max_rolls(tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    config = _config(
        tmp_path,
        f"log_file: {log_file}\nlog_to_console: false\nlog_file_max_size: 2KB\nlog_file_max_rolls: 2\n",
    )
    lifecycle, _ = await _started(config)
    try:
        for i in range(100):
            _log.info("line %03d %s", i, "x" * 60)
    finally:
        await lifecycle.stop()
    rolls = _files(tmp_path, "agent.log*")
    assert sorted(rolls) == ["agent.log", "agent.log.1", "agent.log.2"]
    assert all(0 < len(text.encode()) <= 2048 for text in rolls.values())
    assert "line 099" in rolls["agent.log"]
    assert "line 000" not in "".join(rolls.values())


async def test_zero_rolls_truncates_the_file(tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    config = _config(
        tmp_path,
        f"log_file: {log_file}\nlog_to_console: false\nlog_file_max_size: 1024\nlog_file_max_rolls: 0\n",
    )
    lifecycle, _ = await _started(config)
    try:
        for i in range(50):
            _log.info("line %03d %s", i, "x" * 60)
    finally:
        await lifecycle.stop()
    rolls = _files(tmp_path, "agent.log*")
    assert list(rolls) == ["agent.log"]
    assert len(rolls["agent.log"].encode()) <= 1024 and "line 049" in rolls["agent.log"]


async def test_json_lines_carry_time_level_logger_message_and_traceback(tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    config = _config(tmp_path, f"log_file: {log_file}\nlog_to_console: false\nlog_format_json: true\n")
    lifecycle, _ = await _started(config)
    try:
        _log.warning("two\nlines")
        try:
            raise ValueError("boom")
        except ValueError:
            _log.exception("failed")
    finally:
        await lifecycle.stop()
    first, second = (json.loads(line) for line in log_file.read_text().splitlines())
    assert (
        first["level"] == "WARNING"
        and first["logger"] == "tests.log_outputs"
        and first["msg"] == "two\nlines"
    )
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["msg"] == "failed" and "ValueError: boom" in second["exc"]


async def test_every_output_key_changes_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "log_level: info\n")
    lifecycle, component = await _started(config)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    try:
        _log.info("before any file")
        config.set("log_file", str(first), RUNTIME)  # type: ignore[attr-defined]
        config.set("log_to_console", False, RUNTIME)  # type: ignore[attr-defined]
        _log.info("first file only")
        config.set("log_format_json", True, RUNTIME)  # type: ignore[attr-defined]
        _log.info("first file as json")
        config.set("log_file", str(second), RUNTIME)  # type: ignore[attr-defined]
        _log.info("second file")
        assert component.outputs.file == str(second)
    finally:
        await lifecycle.stop()
    err = capsys.readouterr().err
    assert "before any file" in err and "first file only" not in err
    first_text = first.read_text()
    assert "first file only" in first_text
    assert json.loads(first_text.splitlines()[-1])["msg"] == "first file as json"
    assert "second.log" not in first_text.splitlines()[-1] and "second file" not in first_text
    assert json.loads(second.read_text().splitlines()[-1])["msg"] == "second file"


async def test_a_file_that_cannot_be_opened_keeps_the_current_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "agent.log"
    config = _config(tmp_path, f"log_file: {good}\n")
    lifecycle, component = await _started(config)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    try:
        config.set("log_file", str(blocker / "agent.log"), RUNTIME)  # type: ignore[attr-defined]
        _log.info("still here")
        assert component.outputs.file == str(good)
    finally:
        await lifecycle.stop()
    assert "still here" in good.read_text()
    assert f"cannot open log_file '{blocker / 'agent.log'}'" in capsys.readouterr().err


async def test_a_file_that_cannot_be_opened_at_start_aborts_startup_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = _config(tmp_path, f"log_file: {blocker / 'agent.log'}\n")
    lifecycle = Lifecycle()
    new_component(Requires(lifecycle=lifecycle, config=config))  # type: ignore[arg-type]
    with pytest.raises(LifecycleError, match="cannot open log_file"):
        await lifecycle.start()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("log_file_max_size", "10", "a size in bytes"),
        ("log_file_max_size", 100, "of at least 1024"),
        ("log_file_max_rolls", -1, "between 0 and 100"),
        ("log_format_json", "maybe", "a boolean"),
    ],
)
def test_bad_output_values_are_refused_naming_key_and_expectation(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    config = _config(tmp_path, "")
    with pytest.raises(ConfigValueError, match=expected) as err:
        config.set(key, value, RUNTIME)  # type: ignore[attr-defined]
    assert key in str(err.value)


def test_sizes_are_read_as_the_go_agent_writes_them(tmp_path: Path) -> None:
    config = _config(tmp_path, "log_file_max_size: 10Mb\n")
    assert config.get_int("log_file_max_size") == 10 * 1024 * 1024  # type: ignore[attr-defined]
    assert _config(tmp_path, "").get_int("log_file_max_size") == 10 * 1024 * 1024  # type: ignore[attr-defined]
    assert _config(tmp_path, "").get_int("log_file_max_rolls") == 1  # type: ignore[attr-defined]
