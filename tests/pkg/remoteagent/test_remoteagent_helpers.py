"""Endpoint URIs, name sanitizing and the merge of Prometheus text."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pkg.remoteagent.endpoint import EndpointError, grpc_target
from pkg.remoteagent.names import sanitize_file_name, sanitize_name
from pkg.remoteagent.promtext import MergedMetrics, render


@pytest.mark.parametrize(
    ("uri", "target"),
    [
        ("", None),
        ("https://127.0.0.1:5010", "127.0.0.1:5010"),
        ("https://localhost:5010/", "localhost:5010"),
        ("127.0.0.1:5010", "127.0.0.1:5010"),
        ("[::1]:5010", "[::1]:5010"),
        ("unix:///run/agent.sock", "unix:///run/agent.sock"),
    ],
)
def test_accepted_endpoints(uri: str, target: str | None) -> None:
    assert grpc_target(uri) == target


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:1",
        "127.0.0.1",
        "host:0",
        "host:99999",
        "unix://relative",
        "https://u@h:1",
        " h:1",
        "h :1",
    ],
)
def test_refused_endpoints_name_the_value(uri: str) -> None:
    with pytest.raises(EndpointError, match="expected https://host:port, host:port or unix:///path") as info:
        grpc_target(uri)
    assert repr(uri) in str(info.value)


def test_names_are_sanitized() -> None:
    assert sanitize_name("System Probe/2") == "System_Probe_2"
    assert sanitize_name("..") == "unnamed"
    assert len(sanitize_name("x" * 1000)) == 255
    assert sanitize_file_name("../../etc/passwd") == ".._.._etc_passwd"
    long_name = sanitize_file_name("a" * 300 + ".log")
    assert len(long_name) == 255 and long_name.endswith(".log")
    assert sanitize_file_name("") == "unnamed"


AGENT_A = """# TYPE requests_total counter
requests_total{path="/",emitter="spoofed"} 2
# TYPE latency summary
latency{quantile="0.5"} 1
latency_sum 1
latency_count 1
# TYPE queue gauge
queue 3
"""
AGENT_B = """# TYPE requests_total counter
requests_total{path="/"} 5
# TYPE queue counter
queue_total 1
"""


def test_merge_relabels_drops_and_sums() -> None:
    merged = MergedMetrics()
    merged.add_text("a", AGENT_A)
    merged.add_text("b", AGENT_B)
    merged.add_text("a", '# TYPE requests_total counter\nrequests_total{path="/"} 1\n')  # collides: summed
    merged.add_text("c", "not { prometheus")
    families = {f.name: f for f in text_string_to_metric_families(render(merged.families()))}
    requests = {s.labels["emitter"]: s.value for s in families["requests"].samples}
    assert requests == {"a": 3.0, "b": 5.0}
    assert "latency" not in families
    assert [s.labels for s in families["queue"].samples] == [{"emitter": "a"}]
    joined = "\n".join(merged.warnings)
    assert "'latency' of 'a' dropped: type summary" in joined
    assert "'queue' of 'b' dropped" in joined
    assert "metrics of 'c' dropped: unparseable" in joined
