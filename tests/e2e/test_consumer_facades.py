"""The public facades against a real core agent: found through its config file, read, followed,
closed without leaving a task or a thread behind."""

from __future__ import annotations

import asyncio
import queue
import threading

import pytest

from comp.core.configstreamconsumer import (
    ChangeEvent,
    ConsumerState,
    MissingSettingError,
    NotReadyError,
    Source,
    SyncConfigStream,
    connect_config_stream,
)
from tests.e2e.consumer_support import WAIT, SettingsClient
from tests.e2e.harness import AgentFactory, AgentProcess


async def test_connect_reads_and_follows_the_core(agent: AgentProcess) -> None:
    async with connect_config_stream("e2e-facade", config_file=agent.config_file) as config:
        assert config.state == ConsumerState.READY
        assert config.get_string("hostname") == "e2e-host"
        assert config.get_int("cmd_port") == agent.port
        assert config.get_source("hostname") == Source.FILE
        with pytest.raises(MissingSettingError, match="did you mean 'hostname'"):
            config.get_string("hostnam")
        changes = config.changes(prefix="custom.")
        async with SettingsClient(agent) as client:
            sequence_id = await client.set({"custom.workers": "8"})
        change = await asyncio.wait_for(anext(changes), WAIT)
        assert change == ChangeEvent("custom.workers", None, 8, Source.AGENT_RUNTIME)
        assert config.get_int("custom.workers") == 8
        assert config.sequence_id == sequence_id
    assert [event async for event in changes] == []  # the iteration ended with the block
    assert not [task for task in asyncio.all_tasks() if "configstream" in task.get_name()]


async def test_connect_to_a_stopped_core_names_address_and_cause(new_agent: AgentFactory) -> None:
    agent = new_agent()  # configured, never started
    with pytest.raises(NotReadyError) as info:
        async with connect_config_stream("e2e-facade", config_file=agent.config_file, ready_timeout=1):
            pytest.fail("no core agent runs")
    assert agent.address in str(info.value)


def test_the_sync_stream_follows_the_core_and_leaves_no_thread(agent: AgentProcess) -> None:
    threads_before = set(threading.enumerate())
    seen: queue.Queue[ChangeEvent] = queue.Queue()
    with SyncConfigStream("e2e-sync", config_file=agent.config_file) as config:
        config.wait_ready(WAIT)
        assert config.get_string("log_level") == "info"
        config.on_change(seen.put, keys=["log_level"])
        result = agent.run_cli("config", "set", "log_level", "debug")
        assert result.returncode == 0, result.stderr
        assert seen.get(timeout=WAIT) == ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME)
        assert config.get_string("log_level") == "debug"
    assert set(threading.enumerate()) - threads_before == set()
    assert config.get_string("log_level") == "debug"  # the last view still answers
