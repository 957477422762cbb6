"""The logic of the write-path, scale, batch and filter cases: what subscribers ask for, how batched
and progress events are counted, and the snapshot build measured in a process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.cases_scale import SCALE_TOTAL_MAX_BYTES, SCALE_VALUE, filter_arguments
from bench.servers import Secrets, write_config
from bench.snapshot_build import bulk_settings, measure_build, peak_extra_bytes
from bench.subscribers import Fleet, SubscriberState, parse_arguments, stream_request
from bench.writer import burst_keys
from pkg.config.wire_size import setting_size, value_size
from pkg.proto.gen.datadog.model.v1 import configstream_pb2

ROOT = Path(__file__).resolve().parents[2]
_BASE = ["--target", "t:1", "--token-file", "a", "--cert-file", "b"]


def _request(*options: str) -> configstream_pb2.ConfigStreamRequest:
    args = parse_arguments([*_BASE, *options])
    return configstream_pb2.ConfigStreamRequest.FromString(stream_request(args, "n"))


def test_a_plain_subscriber_asks_for_nothing_beyond_the_go_agents_request() -> None:
    request = _request()
    assert request.name == "n"
    assert request.ListFields() == [
        (configstream_pb2.ConfigStreamRequest.DESCRIPTOR.fields_by_name["name"], "n")
    ]


def test_extensions_asked_for_by_options() -> None:
    assert _request("--max-batch-updates", "256").max_batch_updates == 256
    filtered = _request("--filter-key", "a.b", "--filter-prefix", "logs")
    assert list(filtered.filter.keys) == ["a.b"] and list(filtered.filter.prefixes) == ["logs"]
    assert filtered.progress  # a filtered stream learns its position from progress events
    assert _request("--progress").progress and not _request().progress


def test_filter_arguments_keep_one_key_in_a_hundred() -> None:
    keys = burst_keys("bench.mix.k", 100)
    assert filter_arguments(keys) == ["--filter-key", "bench.mix.k0000"]
    assert filter_arguments(keys[:10]) == ["--filter-key", "bench.mix.k0000"]  # at least one
    assert filter_arguments(keys, 0.05)[1::2] == keys[:5]


def _event(**fields: object) -> bytes:
    return configstream_pb2.ConfigEvent(**fields).SerializeToString()  # type: ignore[arg-type]


def _update(seq: int) -> configstream_pb2.ConfigUpdate:
    setting = configstream_pb2.ConfigSetting(key="k", source="agent-runtime")
    setting.value.string_value = "x"
    return configstream_pb2.ConfigUpdate(sequence_id=seq, setting=setting)


async def test_batched_updates_count_one_by_one_and_progress_moves_a_filtered_subscriber() -> None:
    fleet = Fleet(2)
    plain = SubscriberState(0, channel=None)  # type: ignore[arg-type]
    filtered = SubscriberState(1, channel=None, filtered=True)  # type: ignore[arg-type]
    snapshot = configstream_pb2.ConfigSnapshot(sequence_id=1)
    for sub in (plain, filtered):
        fleet.on_event(sub, _event(snapshot=snapshot))
    fleet.expect(4, [plain, filtered])
    fleet.on_event(
        plain, _event(batch=configstream_pb2.ConfigBatch(updates=[_update(2), _update(3), _update(4)]))
    )
    fleet.on_event(filtered, _event(update=_update(3)))  # a filtered stream skips ids: no gap
    assert not fleet.reached.is_set()
    fleet.on_event(filtered, _event(progress=configstream_pb2.ConfigProgress(sequence_id=4)))
    assert fleet.reached.is_set()
    stats = fleet.take_stats()
    assert (stats["received"], stats["updates"], stats["batches"], stats["progress"]) == (5, 4, 1, 1)
    assert (stats["gaps"], stats["out_of_order"]) == (0, 0)
    assert stats["snapshot_bytes"] == len(_event(snapshot=snapshot))


async def test_a_gap_inside_a_batch_is_counted() -> None:
    fleet = Fleet(1)
    sub = SubscriberState(0, channel=None)  # type: ignore[arg-type]
    fleet.on_event(sub, _event(snapshot=configstream_pb2.ConfigSnapshot(sequence_id=1)))
    fleet.on_event(sub, _event(batch=configstream_pb2.ConfigBatch(updates=[_update(2), _update(5)])))
    assert fleet.take_stats()["gaps"] == 1
    assert sub.last_seq == 5


def test_the_scale_config_fits_one_4_mib_message_at_100000_settings(tmp_path: Path) -> None:
    settings = bulk_settings(100_000, SCALE_VALUE)
    total = sum(setting_size(k, "file", value_size(v)) for k, v in settings.items())
    assert total < SCALE_TOTAL_MAX_BYTES - 64 * 1024  # room for the declared defaults
    secrets = Secrets(tmp_path / "token", tmp_path / "cert")
    path = write_config(
        tmp_path / "datadog.yaml",
        port=1,
        telemetry_port=2,
        secrets=secrets,
        bulk_settings=3,
        bulk_value=SCALE_VALUE,
        total_max_bytes=SCALE_TOTAL_MAX_BYTES,
    )
    text = path.read_text()
    assert "s00002: v00002" in text and f"total_max_bytes: {SCALE_TOTAL_MAX_BYTES}" in text


def test_measure_build_reports_the_same_snapshot_each_way() -> None:
    settings = bulk_settings(300, SCALE_VALUE)
    core, message, floor = (measure_build(kind, settings, 1) for kind in ("core", "core-message", "floor"))
    assert core["payload_bytes"] == message["payload_bytes"]
    assert core["payload_bytes"] > floor["payload_bytes"] > 300 * 30  # the core adds its defaults
    assert core["build_ms"] > 0 and floor["build_ms"] > 0


def test_peak_extra_bytes_sees_memory_held_during_the_run() -> None:
    held = peak_extra_bytes(lambda: bytearray(64 * 1024 * 1024))
    assert held is None or held >= 60 * 1024 * 1024


def test_snapshot_build_prints_one_json_line() -> None:
    command = [
        sys.executable,
        "-m",
        "bench.snapshot_build",
        "--settings",
        "50",
        "--kind",
        "floor",
        "--runs",
        "1",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    answer = json.loads(result.stdout)
    assert (answer["event"], answer["kind"], answer["settings"]) == ("built", "floor", 50)
