"""The fleet applier on a real config: a watch batch is applied event by event."""

from __future__ import annotations

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
