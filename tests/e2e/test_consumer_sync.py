"""The consumer's view equals a real core agent's effective config: at start and after many changes."""

from __future__ import annotations

import asyncio
import json
import random
import re
from typing import Any

from comp.core.configstreamconsumer.def_ import ChangeEvent, ConsumerState
from comp.core.settings.impl.runtime_settings import mask_secret
from pkg.config.sources import Source
from tests.e2e.consumer_support import (
    WAIT,
    SettingsClient,
    assert_view_matches,
    running_consumer,
    wait_in_sync,
)
from tests.e2e.harness import AgentProcess


def _cli_format(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


async def test_the_view_equals_the_core_config_after_start(agent: AgentProcess) -> None:
    async with running_consumer(agent, name="e2e-start") as (consumer, telemetry):
        await consumer.wait_ready(WAIT)
        core = await wait_in_sync(consumer, agent)
        assert_view_matches(consumer, core)
        reader = consumer.reader()
        assert reader.get_string("hostname") == "e2e-host"
        assert reader.get_source("hostname") == Source.FILE
        assert reader.get_int("cmd_port") == agent.port
        assert reader.get_source("site") == Source.DEFAULT
        assert telemetry.histogram_count("configstream_consumer.time_to_first_snapshot_seconds") == 1

        # The same, as `core-agent config list` prints it ("key = value (source)").
        listing = await asyncio.to_thread(agent.run_cli, "config", "list")
        assert listing.returncode == 0, listing.stderr
        printed = {}
        for line in listing.stdout.splitlines():
            match = re.fullmatch(r"(\S+) = (.*) \(([^()]+)\)", line)
            assert match, line
            printed[match.group(1)] = (match.group(2), match.group(3))
        ours = reader.all_settings()
        assert sorted(printed) == sorted(ours)
        for key, value in ours.items():
            text, source = printed[key]
            assert source == str(reader.get_source(key)), key
            if key == "api_key":
                assert text == mask_secret(value, key)
            elif value == "":
                assert text in ("", '""'), key
            else:
                assert text == _cli_format(value), key


_CHOICES: dict[str, Any] = {
    "log_level": lambda r: r.choice(["trace", "debug", "info", "warn", "error"]),
    "site": lambda r: f"site{r.randrange(5)}.example",
    "hostname": lambda r: f"host-{r.randrange(5)}",
    "tags": lambda r: "[" + ", ".join(f"t{i}:{r.randrange(3)}" for i in range(r.randrange(3))) + "]",
    "logs_config.enabled": lambda r: r.choice(["true", "false"]),
    "api_key": lambda r: f"{r.getrandbits(128):032x}",
    "remote_agent.registry.query_timeout": lambda r: r.choice(["1s", "2s", "3s"]),
    # Undeclared keys: an unset removes them from the view altogether.
    "custom.count": lambda r: str(r.randrange(-5, 1000)),
    "custom.ratio": lambda r: str(r.random()),
    "custom.big": lambda r: str(r.randrange(2**60)),  # beyond 2**53: streamed as digits
    "custom.labels.team": lambda r: r.choice(["a", "b", "c"]),
}


async def test_the_view_follows_100_random_sets_and_unsets(agent: AgentProcess) -> None:
    rng = random.Random(20240501)
    async with running_consumer(agent, name="e2e-random") as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        changes = consumer.subscribe()
        async with SettingsClient(agent) as client:
            for _ in range(100):
                key = rng.choice(sorted(_CHOICES))
                if rng.random() < 0.7:
                    await client.set({key: _CHOICES[key](rng)})
                else:
                    await client.unset(key)
        core = await wait_in_sync(consumer, agent)
        assert_view_matches(consumer, core)
        assert consumer.stats.gaps == 0
        assert consumer.stats.registrations == 1

        # Every change reached the subscriber, in order: replaying them gives the final values.
        changes.close()
        seen: list[ChangeEvent] = [event async for event in changes]
        assert len(seen) == consumer.stats.updates
        assert any(e.source is None for e in seen), "the seed should remove an undeclared key"
        final: dict[str, Any] = {}
        for event in seen:
            final[event.key] = event.new
        reader = consumer.reader()
        for key, value in final.items():
            assert reader.get(key) == value
        assert consumer.state == ConsumerState.READY
