"""The lines the test client prints."""

from __future__ import annotations

import pytest

from config_stream_client.accounting import StreamTally
from config_stream_client.formatting import (
    SettingView,
    format_setting,
    snapshot_lines,
    summary_lines,
    update_lines,
)


def test_format_setting_shows_key_value_and_source() -> None:
    assert format_setting(SettingView("log_level", "debug", "agent-runtime")) == (
        "  log_level = debug (source: agent-runtime)"
    )


def test_format_setting_of_an_unset_names_both_sources() -> None:
    line = format_setting(SettingView("log_level", "info", "file", "agent-runtime"))
    assert line == "  log_level = info (source: file, unset_source: agent-runtime)"


def test_format_setting_of_an_unset_with_nothing_left() -> None:
    line = format_setting(SettingView("extra.key", None, "", "agent-runtime"))
    assert line == "  extra.key = null (source: none, unset_source: agent-runtime)"


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("api_key", "*" * 27 + "bcdef"),
        ("logs_config.api_key", "*" * 27 + "bcdef"),
        ("proxy.password", "********"),
    ],
)
def test_secrets_are_masked_and_only_an_api_key_s_end_stays_visible(key: str, shown: str) -> None:
    line = format_setting(SettingView(key, "0123456789abcdef0123456789abcdef", "file"))
    assert "0123456789" not in line
    assert line == f"  {key} = {shown} (source: file)"


def test_url_credentials_and_secrets_inside_mappings_are_masked() -> None:
    proxy = format_setting(SettingView("proxy.https", "http://user:password@host:3128", "file"))
    assert proxy == "  proxy.https = http://user:********@host:3128 (source: file)"
    nested = format_setting(SettingView("app_key", {"inner": "X"}, "file"))
    assert nested == '  app_key = {"inner": "********"} (source: file)'


def test_snapshot_lines_show_at_most_max_samples_in_key_order() -> None:
    settings = [SettingView(k, i, "default") for i, k in enumerate(["c", "a", "d", "b"])]
    assert snapshot_lines(12, settings, 2) == [
        "SNAPSHOT received (seq_id=12, settings=4)",
        "  a = 1 (source: default)",
        "  b = 3 (source: default)",
        "  ... and 2 more",
    ]


def test_snapshot_lines_with_zero_samples_and_all_samples() -> None:
    settings = [SettingView("a", 1, "file")]
    assert snapshot_lines(0, settings, 0) == ["SNAPSHOT received (seq_id=0, settings=1)", "  ... and 1 more"]
    assert snapshot_lines(0, settings, 5) == [
        "SNAPSHOT received (seq_id=0, settings=1)",
        "  a = 1 (source: file)",
    ]


def test_update_lines() -> None:
    assert update_lines(3, 42, SettingView("site", "datadoghq.eu", "agent-runtime")) == [
        "UPDATE #3 received (seq_id=42)",
        "  site = datadoghq.eu (source: agent-runtime)",
    ]


def test_summary_of_a_healthy_stream() -> None:
    lines = summary_lines(StreamTally(snapshots=1, updates=2, last_sequence_id=9), 3.04)
    assert lines == [
        "--- summary ---",
        "duration:      3.0s",
        "snapshots:     1",
        "updates:       2",
        "gaps:          0",
        "out-of-order:  0",
        "last seq id:   9",
        "result:        OK",
    ]


def test_summary_of_a_failed_stream_says_why() -> None:
    lines = summary_lines(StreamTally(snapshots=0), 1.0)
    assert "last seq id:   none" in lines
    assert lines[-1] == "result:        FAILED: no snapshot received"
    lines = summary_lines(StreamTally(snapshots=1, gaps=1, out_of_order=2, last_sequence_id=4), 1.0)
    assert lines[-1] == "result:        FAILED: 1 gap(s) in sequence ids; 2 out-of-order sequence id(s)"
