"""A flare within one gRPC message: per-file truncation, the total budget, notes and the report."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp.core.diagnostics.impl.bounds import (
    MIN_MESSAGE_BYTES,
    REPORT_NAME,
    FlareLimits,
    bound_files,
    entry_bytes,
    limits_for,
)
from pkg.proto.gen.configstream.remoteagents.v1 import remoteagents_pb2 as pb

MIB = 1024 * 1024
GRPC_PREFIX = 5
_MARKER = re.compile(rb"\n\[flare: (\d+) of (\d+) bytes dropped here by the core agent: ([^\]]+)\]\n$")


def _wire_bytes(files: dict[str, bytes]) -> int:
    return GRPC_PREFIX + pb.CreateFlareResponse(files=files).ByteSize()


def test_limits_at_the_default_message_size() -> None:
    limits = limits_for(4 * MIB)
    assert limits == FlareLimits(
        max_message_bytes=4 * MIB,
        total=4 * MIB - 1024 - 2 * 64 * 1024,
        per_file=(4 * MIB - 1024 - 2 * 64 * 1024) // 4,
        notes=64 * 1024,
        report=64 * 1024,
    )
    small = limits_for(64 * 1024)
    assert small.notes == small.report == 4 * 1024
    assert small.total + small.notes + small.report + 1024 == 64 * 1024


def test_a_message_size_below_the_minimum_is_refused() -> None:
    with pytest.raises(
        ValueError, match=f"invalid flare message size: 1000, expected at least {MIN_MESSAGE_BYTES}"
    ):
        limits_for(1000)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 2 * MIB, 5 * MIB])
@pytest.mark.parametrize("path", ["a", "core/status.json", "x" * 200])
def test_entry_bytes_is_what_protobuf_serializes(path: str, size: int) -> None:
    content = b"z" * size
    assert entry_bytes(path, content) == pb.CreateFlareResponse(files={path: content}).ByteSize()


def test_files_within_the_limits_are_untouched_and_there_is_no_report() -> None:
    files = [("core/status.txt", b"ok\n"), ("agent/a.log", b"line\n" * 1000), ("agent/empty", b"")]
    assert bound_files(files, limits_for(4 * MIB)) == dict(files)


def test_a_file_over_the_per_file_limit_keeps_its_head_and_says_what_was_dropped() -> None:
    limits = limits_for(4 * MIB)
    big = b"".join(b"line %07d\n" % i for i in range(500_000))  # 6,000,000 bytes
    result = bound_files([("core/status.txt", b"ok\n"), ("agent/big.log", big)], limits)
    cut = result["agent/big.log"]
    assert len(cut) <= limits.per_file
    marker = _MARKER.search(cut)
    assert marker is not None, cut[-300:]
    dropped, size, why = int(marker[1]), int(marker[2]), marker[3].decode()
    assert size == len(big)
    head = cut[: marker.start()]
    assert big.startswith(head) and dropped == len(big) - len(head)
    assert f"at most {limits.per_file} bytes" in why and "agent_ipc.grpc_max_message_size" in why
    assert result["core/status.txt"] == b"ok\n"
    report = result[REPORT_NAME].decode()
    assert f"truncated agent/big.log: {len(big)} bytes, more than {limits.per_file} for one file" in report
    assert _wire_bytes(result) <= 4 * MIB


def test_truncation_never_splits_a_utf8_character() -> None:
    limits = limits_for(64 * 1024)
    for offset in range(4):
        text = ("a" * offset + "é€𝄞" * 10_000).encode()
        cut = bound_files([("agent/utf8.txt", text)], limits)["agent/utf8.txt"]
        cut.decode("utf-8")  # raises on a split character
        assert len(cut) <= limits.per_file


def test_once_the_total_is_used_the_next_file_is_cut_and_the_rest_replaced_by_notes() -> None:
    limits = limits_for(4 * MIB)
    chunk = b"x" * (limits.per_file * 9 // 10)
    core = [("core/status.txt", b"status\n"), ("core/config.yaml", b"a: 1\n"), ("core/agent.log", b"log\n")]
    remote = [(f"agent/{i}.log", chunk) for i in range(7)]
    result = bound_files(core + remote, limits)
    for path, content in core:
        assert result[path] == content
    assert all(result[f"agent/{i}.log"] == chunk for i in range(4))
    partial = result["agent/4.log"]
    marker = _MARKER.search(partial)
    assert marker is not None and f"at most {limits.total} bytes in all" in marker[3].decode()
    assert int(marker[1]) == len(chunk) - marker.start()
    for i in (5, 6):
        note = result[f"agent/{i}.log"].decode()
        assert note.startswith(f"[flare: this file ({len(chunk)} bytes) was left out by the core agent")
        assert REPORT_NAME in note and len(note) < 400
    report = result[REPORT_NAME].decode()
    assert "truncated agent/4.log" in report
    assert "left out agent/5.log" in report and "left out agent/6.log" in report
    assert "agent/3.log" not in report
    assert list(result) == [p for p, _ in core + remote] + [REPORT_NAME]
    assert _wire_bytes(result) <= 4 * MIB


def test_a_small_file_after_the_total_is_used_is_left_out_too() -> None:
    limits = limits_for(64 * 1024)
    big = [(f"a/big{i}", b"x" * limits.per_file) for i in range(4)]
    result = bound_files([*big, ("a/small", b"tiny")], limits)
    assert _MARKER.search(result["a/big3"]) is not None
    assert result["a/small"].startswith(b"[flare: this file (4 bytes) was left out")


def test_too_many_files_keep_the_flare_bounded_and_the_report_says_how_many_more() -> None:
    limits = limits_for(64 * 1024)
    files = [(f"agent/file-{i:05d}.log", b"y" * 100) for i in range(20_000)]
    result = bound_files(files, limits)
    assert _wire_bytes(result) <= 64 * 1024
    report = result[REPORT_NAME].decode()
    more = re.search(r"\.\.\. and (\d+) more\n$", report)
    assert more is not None
    listed = len(re.findall(r"^(?:truncated|left out) agent/", report, re.MULTILINE))
    cut = sum(1 for path, content in files if result.get(path) != content)
    assert listed + int(more[1]) == cut
    assert len(result) < len(files)  # past the notes' room, files are left out without a note


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=200_000), max_size=40),
    max_message=st.integers(min_value=MIN_MESSAGE_BYTES, max_value=256 * 1024),
)
def test_any_flare_fits_its_message(sizes: list[int], max_message: int) -> None:
    files = [(f"agent-{i % 3}/f{i}.txt", b"w" * size) for i, size in enumerate(sizes)]
    limits = limits_for(max_message)
    result = bound_files(files, limits)
    assert _wire_bytes(result) <= max_message
    assert all(len(content) <= limits.per_file for path, content in result.items() if path != REPORT_NAME)
    assert (REPORT_NAME in result) == any(result.get(p) != c for p, c in files)
