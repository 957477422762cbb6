"""``core-agent status`` tells what is going on: per remote agent its stream, the producer's epoch,
sequence id and history, health and telemetry; ``--json`` carries all of it. Real agent process."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.e2e.harness import AgentProcess
from tests.e2e.stream_support import SettingsApi, StreamClient, register

pytestmark = pytest.mark.e2e


async def test_status_json_carries_the_stream_of_each_remote_agent(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        session_id = await register(agent, channel, name="status e2e")
        client = StreamClient(agent, channel, session_id).start()
        try:
            await client.wait_snapshot()
            sequence_id = await SettingsApi(agent, channel).set({"site": "datad0g.com"})
            await client.wait_sequence_id(sequence_id)
            result = await asyncio.to_thread(agent.run_cli, "status", "--json")
            text = await asyncio.to_thread(agent.run_cli, "status")
        finally:
            await client.cancel()
    assert result.returncode == 0, result.stderr
    core = json.loads(result.stdout)["core"]
    assert core["health"] == "SERVING"
    assert core["sequence_id"] == sequence_id
    stream = core["stream"]
    assert len(stream["epoch"]) == 32
    assert stream["history_events"] >= 1 and 0 < stream["history_bytes"] <= stream["history_max_bytes"]
    assert stream["history_max_events"] == 10000
    [registered] = [a for a in core["registered_agents"] if a["session_id"] == session_id]
    assert registered["display_name"] == "status e2e"
    assert registered["streaming"] is True
    assert registered["events_sent"] >= 2  # the snapshot and the update
    assert registered["lagging"] is False and registered["resyncs"] == 0 and registered["resumed"] is False
    assert registered["last_seen_unix"] > 0
    assert core["telemetry_url"] is None or core["telemetry_url"].startswith("http://127.0.0.1:")

    assert text.returncode == 0, text.stderr
    assert "health:" in text.stdout and "SERVING" in text.stdout
    assert f"stream epoch:       {stream['epoch']}" in text.stdout
    assert "config stream: live," in text.stdout and "started with a snapshot" in text.stdout
