"""The agent's run with the consumer replaced by its mock: ready line, printed changes, log_level
mirrored into the local config (and so applied by the log component), clean stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers

from comp.core.configstreamconsumer.def_ import ChangeEvent
from comp.core.configstreamconsumer.mock import MockConsumer
from comp.core.ipc.mock import MockIpc
from pkg.config.sources import Source
from sample_remote_agent.agent import EXIT_FAILURE, EXIT_OK, LevelMirror, StartupError, format_change, run
from sample_remote_agent.container import SampleRemoteAgentContainer, build_parts
from sample_remote_agent.options import Options
from tests.support.fake_core import FakeCore
from tests.support.polling import eventually
from tests.support.wire import snapshot, update

WAIT = 5.0
SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _container(options: Options, consumer: MockConsumer) -> SampleRemoteAgentContainer:
    container = SampleRemoteAgentContainer(options=options, environ={})
    container.configstreamconsumer.component.override(providers.Object(consumer))
    return container


async def _until(lines: list[str], text: str) -> None:
    await eventually(lambda: text in lines, f"the line {text!r}", WAIT)


def test_every_component_is_built_and_its_hooks_run_in_this_order(tmp_path: Path) -> None:
    parts = build_parts(SampleRemoteAgentContainer(options=Options(state_dir=tmp_path), environ={}))
    assert parts.lifecycle.hook_names == [
        "log",
        "telemetry",
        "recent logs",
        "remote agent",
        "configstream consumer",
    ]


async def test_prints_changes_and_follows_log_level(tmp_path: Path) -> None:
    options = Options(state_dir=tmp_path, wait_timeout=WAIT)
    consumer = MockConsumer()
    container = _container(options, consumer)
    lines: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(run(options, lines.append, stop, container))
    await asyncio.sleep(0)
    consumer.set_view({"log_level": "warn", "hostname": "h", "api_key": SECRET}, source=Source.FILE)
    await _until(lines, "ready: 3 settings from core agent at localhost:5001 (sequence id 1)")
    log = container.log.component()
    config = container.config.component()
    assert log.level == "warn"
    assert config.get_source("log_level") == Source.FILE

    consumer.set("log_level", "debug")
    await _until(lines, "change: log_level = debug (source: agent-runtime)")
    assert log.level == "debug"
    assert logging.getLogger().level == logging.DEBUG
    consumer.set("api_key", SECRET[::-1])
    await _until(lines, f"change: api_key = {'*' * 27}{SECRET[::-1][-5:]} (source: agent-runtime)")
    consumer.unset("hostname")
    await _until(lines, "change: hostname removed")
    consumer.set("log_level", "loud")  # refused by the local schema: the level stays
    await _until(lines, "change: log_level = loud (source: agent-runtime)")
    assert log.level == "debug"
    consumer.set("log_level", "error", Source.FILE)  # back to the file: the runtime layer is removed
    await _until(lines, "change: log_level = error (source: file)")
    assert log.level == "error"
    assert config.get_source("log_level") == Source.FILE

    stop.set()
    assert await asyncio.wait_for(task, WAIT) == EXIT_OK
    assert lines[-1] == "stopped"
    assert all(SECRET not in line and SECRET[::-1] not in line for line in lines)


async def test_exits_1_when_no_config_arrives_in_time(tmp_path: Path) -> None:
    options = Options(state_dir=tmp_path, wait_timeout=0.2)
    lines: list[str] = []
    code = await run(options, lines.append, asyncio.Event(), _container(options, MockConsumer()))
    assert code == EXIT_FAILURE
    assert lines == [
        "error: config stream not ready after 0.2s: the mock consumer has no view yet",
        "stopped",
    ]


async def test_a_stop_before_the_config_arrived_is_clean(tmp_path: Path) -> None:
    options = Options(state_dir=tmp_path, wait_timeout=WAIT)
    stop = asyncio.Event()
    stop.set()
    lines: list[str] = []
    assert await run(options, lines.append, stop, _container(options, MockConsumer())) == EXIT_OK
    assert lines == ["stopped"]


async def test_a_bad_local_config_is_a_startup_error(tmp_path: Path) -> None:
    bad = tmp_path / "datadog.yaml"
    bad.write_text("cmd_port: [not, a, port]\n")
    options = Options(config_file=bad)
    with pytest.raises(StartupError, match="cmd_port"):
        await run(options, print, asyncio.Event())


def test_format_change() -> None:
    assert format_change(ChangeEvent("a", 1, 2, Source.FILE), secret=False) == "change: a = 2 (source: file)"
    assert format_change(ChangeEvent("t", None, ["x", 1], Source.CLI), secret=False) == (
        'change: t = ["x", 1] (source: cli)'
    )
    assert format_change(ChangeEvent("m", None, {"b": True}, Source.CLI), secret=False) == (
        'change: m = {"b": true} (source: cli)'
    )
    assert format_change(ChangeEvent("k", "s", None, None), secret=True) == "change: k removed"
    assert (
        format_change(ChangeEvent("k", "", "x", Source.FILE), secret=True)
        == "change: k = ******** (source: file)"
    )
    assert format_change(ChangeEvent("k", "x", "", Source.FILE), secret=True) == "change: k =  (source: file)"


def test_level_mirror_unsets_the_source_it_set_before(tmp_path: Path) -> None:
    container = SampleRemoteAgentContainer(options=Options(state_dir=tmp_path), environ={})
    config = container.config.component()
    mirror = LevelMirror(config)
    mirror.apply("debug", Source.AGENT_RUNTIME)
    assert (config.get_string("log_level"), config.get_source("log_level")) == ("debug", Source.AGENT_RUNTIME)
    mirror.apply("warn", Source.REMOTE_CONFIG)
    assert (config.get_string("log_level"), config.get_source("log_level")) == ("warn", Source.REMOTE_CONFIG)
    assert config.all_settings_by_source()[Source.AGENT_RUNTIME] == {}
    mirror.apply(None, None)  # gone in the core agent: the local default shows through
    assert (config.get_string("log_level"), config.get_source("log_level")) == ("info", Source.DEFAULT)


async def test_the_agent_streams_only_the_keys_it_reads(tmp_path: Path) -> None:
    """With the real consumer against a scripted core: the request's filter, and what the agent sees
    from a core that sends every key anyway."""
    core = FakeCore(MockIpc(tmp_path))
    await core.start()
    try:
        options = Options(state_dir=tmp_path, ipc_address=core.address, wait_timeout=WAIT)
        lines: list[str] = []
        stop = asyncio.Event()
        container = SampleRemoteAgentContainer(options=options, environ={})
        task = asyncio.create_task(run(options, lines.append, stop, container))
        stream = await core.next_stream()
        assert stream.key_filter == (("log_level",), ("sample_remote_agent",))
        everything = {
            "log_level": "info",
            "hostname": "h",
            "api_key": SECRET,
            "sample_remote_agent.greeting": "hi",
        }
        stream.push(snapshot(4, everything))
        await _until(lines, f"ready: 2 settings from core agent at {core.address} (sequence id 4)")
        stream.push(update(5, "hostname", "elsewhere"), update(6, "sample_remote_agent.greeting", "bonjour"))
        stream.push(update(7, "log_level", "debug"))
        await _until(lines, "change: log_level = debug (source: agent-runtime)")
        assert "change: sample_remote_agent.greeting = bonjour (source: agent-runtime)" in lines
        assert not any("hostname" in line or "api_key" in line for line in lines)
        assert container.log.component().level == "debug"
        stop.set()
        assert await asyncio.wait_for(task, WAIT) == EXIT_OK
    finally:
        await core.stop()
