"""The fleet applier on a real config: a watch batch is applied event by event."""

from __future__ import annotations

import pytest

from comp.core.config.mock import new_mock
from comp.core.fleet.impl.applier import FleetApplier
from pkg.config.change import ConfigChange
from pkg.etcd.client import WatchEvent

PREFIX = "/datadog-agent/"


def test_a_batch_with_several_revisions_of_one_key_applies_each_in_order() -> None:
    config = new_mock({})
    seen: list[tuple[str, object, str]] = []

    def record(change: ConfigChange) -> None:
        seen.append((change.key, change.new, str(change.source)))

    config.on_update(record)
    applier = FleetApplier(config, PREFIX, ["global", "host:h1"])
    batch = [
        WatchEvent("put", PREFIX + "global/log_level", b"debug", 5),
        WatchEvent("put", PREFIX + "global/log_level", b"warn", 6),
        WatchEvent("put", PREFIX + "host:h1/log_level", b"error", 7),
        WatchEvent("delete", PREFIX + "host:h1/log_level", b"", 8),
    ]

    assert applier.apply_events(batch) == 4
    assert seen == [
        ("log_level", "debug", "remote-config"),
        ("log_level", "warn", "remote-config"),
        ("log_level", "error", "remote-config"),
        ("log_level", "warn", "remote-config"),
    ]


def test_keys_a_running_agent_does_not_apply_are_refused_and_the_rest_applied(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = new_mock({})
    applier = FleetApplier(config, PREFIX, ["global"])
    batch = [
        WatchEvent("put", PREFIX + "global/cmd_port", b"6000", 3),
        WatchEvent("put", PREFIX + "global/log_levl", b"debug", 4),
        WatchEvent("put", PREFIX + "global/log_level", b"debug", 5),
    ]

    assert applier.apply_events(batch) == 1

    assert applier.refused == 2
    assert set(applier.applied) == {"log_level"}
    assert config.get_int("cmd_port") == 5001 and config.get_string("log_level") == "debug"
    messages = [record.getMessage() for record in caplog.records]
    assert any("cmd_port" in m and "needs a restart" in m and "revision 3" in m for m in messages)
    assert any("log_levl" in m and "did you mean log_level" in m for m in messages)
