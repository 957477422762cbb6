"""Bad input against a real core agent: one row per kind, each refused with a clear error, nothing changed.

Every row is sent to one running ``core-agent`` through its real gRPC services over mTLS. A row names
the input, the status code and a pattern the message must match; after each refusal the core's
settings and sequence id are exactly as before and its resident memory has not grown past a small
tolerance (a refusal must not build what it refuses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from pkg.protoconv.values import from_value
from tests.e2e.harness import AgentProcess, free_port, run_core_agent
from tests.e2e.stream_support import memory_kib

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
VALUE_MAX = MIB  # config_limits.value_max_bytes default
RSS_TOLERANCE = 24 * MIB  # allocator noise; an alias bomb or a kept copy of a big value costs far more


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines)


@dataclass(frozen=True)
class Row:
    """One bad input: what is sent, the code expected back, a regex the details must match."""

    name: str
    send: Callable[[grpc.Channel, tuple[tuple[str, str], ...]], object]
    code: grpc.StatusCode
    message: str


def _set(values: dict[str, str]) -> Callable[[grpc.Channel, tuple[tuple[str, str], ...]], object]:
    def send(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> object:
        stub = settings_pb2_grpc.SettingsStub(channel)
        return stub.SetSettings(settings_pb2.SetSettingsRequest(values=values), metadata=metadata, timeout=20)

    return send


def _register(**fields: str) -> Callable[[grpc.Channel, tuple[tuple[str, str], ...]], object]:
    def send(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> object:
        request = remoteagent_pb2.RegisterRemoteAgentRequest(
            pid=fields.get("pid", "1"),
            flavor=fields.get("flavor", "table"),
            display_name=fields.get("display_name", "table-agent"),
            api_endpoint_uri=fields.get("api_endpoint_uri", ""),
        )
        return remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
            request, metadata=metadata, timeout=20
        )

    return send


def _stream(
    name: str, session_id: str | None, *, in_request: str = ""
) -> Callable[[grpc.Channel, tuple[tuple[str, str], ...]], object]:
    """A stream request; ``session_id`` None registers first and uses the session it gets."""

    def send(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> object:
        session = session_id
        if session is None:
            response = remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
                remoteagent_pb2.RegisterRemoteAgentRequest(pid="1", flavor="table", display_name="table"),
                metadata=metadata,
                timeout=20,
            )
            session = response.session_id
        extra = (("session_id", session),) if session else ()
        call = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(
            configstream_pb2.ConfigStreamRequest(name=name, session_id=in_request),
            metadata=(*metadata, *extra),
            timeout=20,
        )
        return next(iter(call))

    return send


ROWS = [
    Row(
        "alias bomb",
        _set({"custom.bomb": _alias_bomb()}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"bomb.*alias",
    ),
    Row(
        "self-referencing alias", _set({"custom.loop": "&a [*a]"}), grpc.StatusCode.INVALID_ARGUMENT, r"loop"
    ),
    Row(
        "nesting 10,000 deep",
        _set({"custom.deep": "[" * 10_000 + "]" * 10_000}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"deep.*(depth|nest)",
    ),
    Row(
        "value over value_max_bytes",
        _set({"custom.big": "x" * (VALUE_MAX + 1)}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"big.*(value_max_bytes|bytes)",
    ),
    Row(
        "total over total_max_bytes",
        _set({f"custom.part{i}": "y" * (VALUE_MAX - 4096) for i in range(4)}),
        grpc.StatusCode.RESOURCE_EXHAUSTED,  # a quota, as etcd answers a write past its space quota
        r"total_max_bytes",
    ),
    Row(
        "wrong type",
        _set({"remote_agent.registry.idle_timeout": "soon"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"remote_agent\.registry\.idle_timeout.*soon",
    ),
    Row(
        "undeclared key",
        _set({"log_levl": "debug"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"unknown setting 'log_levl': did you mean log_level",
    ),
    Row(
        "key read at startup",
        _set({"cmd_port": "6000"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"'cmd_port' needs a restart: set it in .*datadog\.yaml",
    ),
    Row("mapping for a list", _set({"tags": "{a: b}"}), grpc.StatusCode.INVALID_ARGUMENT, r"tags"),
    Row(
        "group under a leaf",
        _set({"custom.leaf.child": "1"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"leaf",
    ),
    Row(
        "lone surrogate",
        _set({"custom.text": '"\\ud800"'}),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"text.*U\+D800",
    ),
    Row("empty key", _set({"": "1"}), grpc.StatusCode.INVALID_ARGUMENT, r"key"),
    Row("malformed key", _set({"a..b": "1"}), grpc.StatusCode.INVALID_ARGUMENT, r"a\.\.b"),
    Row(
        "key of 64 KiB", _set({"k" * 65536: "1"}), grpc.StatusCode.INVALID_ARGUMENT, r"key.*(long|bytes|char)"
    ),
    Row(
        "display name of 3 MB",
        _register(display_name="n" * 3_000_000),
        grpc.StatusCode.INVALID_ARGUMENT,
        r"display_name",
    ),
    Row("blank display name", _register(display_name="  "), grpc.StatusCode.INVALID_ARGUMENT, r"display"),
    Row("stream name of 1 MB", _stream("s" * MIB, None), grpc.StatusCode.INVALID_ARGUMENT, r"name"),
    Row(
        "session id of 1 MB in the request",
        _stream("ok", "", in_request="z" * MIB),
        grpc.StatusCode.PERMISSION_DENIED,
        r"session_id",
    ),
    Row(
        "session id of 1 MB in the metadata",  # gRPC's own metadata bound answers first
        _stream("ok", "z" * MIB),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        r"metadata",
    ),
]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = AgentProcess(
        Path(tmp_path_factory.mktemp("bad-input")), telemetry=False, settings={"custom.leaf": 1}
    )
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def _state(
    channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]
) -> tuple[dict[str, tuple[object, str]], int]:
    response = settings_pb2_grpc.SettingsStub(channel).ListSettings(
        settings_pb2.ListSettingsRequest(), metadata=metadata, timeout=20
    )
    values = {s.key: (from_value(s.value), s.source) for s in response.settings}
    return values, int(response.sequence_id)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_is_refused_and_changes_nothing(core: AgentProcess, row: Row) -> None:
    metadata = core.auth_metadata()
    with core.sync_channel() as channel:
        before, seq_before = _state(channel, metadata)
        rss_before = memory_kib(core.pid) * 1024

        with pytest.raises(grpc.RpcError) as refused:
            row.send(channel, metadata)

        error = refused.value
        assert error.code() is row.code, error.details()
        details = error.details() or ""
        assert len(details) <= 1024, f"the error echoes {len(details)} characters"
        assert "\n" not in details.strip()
        assert re.search(row.message, details, re.DOTALL), details

        after, seq_after = _state(channel, metadata)
        assert seq_after == seq_before
        assert after == before
        assert memory_kib(core.pid) * 1024 - rss_before < RSS_TOLERANCE
    assert core.returncode is None, "the core died"


@dataclass(frozen=True)
class StartupRow:
    """A config file the core must refuse at startup: one line on stderr matching ``message``."""

    name: str
    text: str
    message: str
    hidden: str = ""  # text that must not appear in the output (a secret)


STARTUP_ROWS = [
    StartupRow("alias bomb in the file", "bomb:\n  " + _alias_bomb().replace("\n", "\n  ") + "\n", r"alias"),
    StartupRow("self-referencing alias in the file", "loop: &a [*a]\n", r"(recurs|alias)"),
    StartupRow("mapping for a list", "tags: {a: b}\n", r"tags"),
    StartupRow("leaf and group", "x: 1\nx.y: 2\n", r"'x'"),
    StartupRow(
        "secret of the wrong type",
        "api_key: [topsecretvalue0123456789]\n",
        r"api_key",
        hidden="topsecretvalue0123456789",
    ),
    StartupRow(
        "total limit past the message size",
        "config_limits:\n  total_max_bytes: 8388608\n",
        r"total_max_bytes.*grpc_max_message_size",
    ),
    StartupRow("file over 16 MiB", "padding: " + "p" * (16 * MIB) + "\n", r"(16 MiB|16777216|bytes)"),
]


@pytest.mark.parametrize("row", STARTUP_ROWS, ids=[row.name for row in STARTUP_ROWS])
def test_bad_config_file_stops_startup_with_one_line(tmp_path: Path, row: StartupRow) -> None:
    config = tmp_path / "datadog.yaml"
    port = free_port()
    config.write_text(f"cmd_host: 127.0.0.1\ncmd_port: {port}\ntelemetry:\n  enabled: false\n" + row.text)
    result = run_core_agent("run", "-c", str(config), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error printed"
    assert re.search(row.message, lines[-1]), lines[-1]
    assert len(lines[-1]) <= 2048
    if row.hidden:
        assert row.hidden not in result.stderr + result.stdout
