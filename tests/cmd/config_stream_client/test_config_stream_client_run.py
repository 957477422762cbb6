"""The client's run against a scripted core agent over real mTLS."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

from config_stream_client.client import EXIT_FAILURE, EXIT_OK, FLAVOR, run
from config_stream_client.options import Options, Target
from tests.support.fake_core import FakeCore
from tests.support.wire import batch, progress, snapshot, update


@dataclass
class Output:
    """Collected stdout/stderr lines; sets ``stop`` once a line starting with ``stop_on`` is printed."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_on: str | None = None
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def emit(self, line: str) -> None:
        self.out.append(line)
        if self.stop_on is not None and line.startswith(self.stop_on):
            self.stop.set()


def _options(**changes: object) -> Options:
    base = Options(
        ipc_address=None,
        auth_token_file=None,
        cert_file=None,
        config_file=None,
        name="test-client",
        duration_seconds=30.0,
        max_samples=5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _target(core: FakeCore) -> Target:
    return Target(
        address=core.address, auth_token_file=core.ipc.paths.auth_token, cert_file=core.ipc.paths.ipc_cert
    )


async def _run(
    core: FakeCore, output: Output, options: Options | None = None, target: Target | None = None
) -> int:
    return await asyncio.wait_for(
        run(options or _options(), target or _target(core), output.emit, output.err.append, output.stop), 20
    )


async def test_prints_snapshot_and_updates_and_succeeds(fake_core: FakeCore) -> None:
    fake_core.events = [
        snapshot(4, {"log_level": "info", "site": "datadoghq.com", "hostname": "h1"}),
        update(5, "log_level", "debug"),
        update(6, "site", "datadoghq.eu"),
    ]
    output = Output(stop_on="UPDATE #2")
    code = await _run(fake_core, output, _options(max_samples=2))
    assert code == EXIT_OK
    assert output.out[:8] == [
        "SNAPSHOT received (seq_id=4, settings=3)",
        "  hostname = h1 (source: file)",
        "  log_level = info (source: file)",
        "  ... and 1 more",
        "UPDATE #1 received (seq_id=5)",
        "  log_level = debug (source: agent-runtime)",
        "UPDATE #2 received (seq_id=6)",
        "  site = datadoghq.eu (source: agent-runtime)",
    ]
    assert output.out[8] == "--- summary ---"
    assert "last seq id:   6" in output.out
    assert output.out[-1] == "result:        OK"
    assert output.err == []
    (registration,) = fake_core.registrations
    assert registration.flavor == FLAVOR
    assert registration.display_name == "test-client"
    await asyncio.wait_for(fake_core.stream_cancelled.wait(), 5)


async def test_ends_with_success_when_the_duration_elapses(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(1, {"log_level": "info"})]
    output = Output()
    assert await _run(fake_core, output, _options(duration_seconds=0.3)) == EXIT_OK
    assert output.out[0] == "SNAPSHOT received (seq_id=1, settings=1)"
    assert "snapshots:     1" in output.out


async def test_gap_is_warned_about_and_fails(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(1, {"log_level": "info"}), update(3, "log_level", "warn")]
    output = Output(stop_on="UPDATE #1")
    assert await _run(fake_core, output) == EXIT_FAILURE
    assert "WARNING: gap: expected seq_id=2, got seq_id=3 (1 missing)" in output.out
    assert "gaps:          1" in output.out


async def test_out_of_order_update_fails(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(5, {"log_level": "info"}), update(5, "log_level", "warn")]
    output = Output(stop_on="UPDATE #1")
    assert await _run(fake_core, output) == EXIT_FAILURE
    assert "WARNING: out-of-order update: seq_id=5 after seq_id=5" in output.out


async def test_no_snapshot_fails(fake_core: FakeCore) -> None:
    output = Output()
    assert await _run(fake_core, output, _options(duration_seconds=0.3)) == EXIT_FAILURE
    assert output.out[-1] == "result:        FAILED: no snapshot received"


async def test_unset_shows_unset_source(fake_core: FakeCore) -> None:
    fake_core.events = [
        snapshot(7, {"log_level": "debug"}),
        update(8, "log_level", "info", source="file", unset_source="agent-runtime"),
    ]
    output = Output(stop_on="UPDATE #1")
    assert await _run(fake_core, output) == EXIT_OK
    assert "  log_level = info (source: file, unset_source: agent-runtime)" in output.out


async def test_wrong_token_is_a_clear_authentication_error(fake_core: FakeCore, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_token"
    wrong.write_text("f" * 64)
    wrong.chmod(0o600)
    output = Output()
    target = replace(_target(fake_core), auth_token_file=wrong)
    assert await _run(fake_core, output, target=target) == EXIT_FAILURE
    assert output.err == [
        f"error: core agent at {fake_core.address} answered UNAUTHENTICATED: invalid auth token"
    ]
    assert output.out[-1] == "result:        FAILED: no snapshot received"


async def test_unreachable_agent_is_a_clear_error(fake_core: FakeCore) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        target = replace(_target(fake_core), address=f"127.0.0.1:{port}")
        output = Output()
        assert await _run(fake_core, output, target=target) == EXIT_FAILURE
    (line,) = output.err
    assert line.startswith(f"error: cannot reach core agent at 127.0.0.1:{port}: ")
    assert line.endswith("Connection refused")


async def test_missing_token_file_names_the_file(fake_core: FakeCore, tmp_path: Path) -> None:
    target = replace(_target(fake_core), auth_token_file=tmp_path / "nope")
    output = Output()
    assert await _run(fake_core, output, target=target) == EXIT_FAILURE
    (line,) = output.err
    assert str(tmp_path / "nope") in line
    assert "does not exist" in line


async def test_stream_ended_by_the_agent_fails(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(1, {"log_level": "info"})]
    fake_core.end_stream = True
    output = Output()
    assert await _run(fake_core, output) == EXIT_FAILURE
    assert output.err == ["error: the core agent ended the stream before --duration elapsed"]


async def test_stop_before_the_snapshot_ends_with_the_summary(fake_core: FakeCore) -> None:
    output = Output()
    output.stop.set()
    code = await _run(fake_core, output)
    assert code == EXIT_FAILURE
    assert output.out[0] == "--- summary ---"


async def test_name_is_sent_at_registration(fake_core: FakeCore) -> None:
    name = "agent-x"
    fake_core.events = [snapshot(1, {"log_level": "info"})]
    output = Output(stop_on="SNAPSHOT")
    assert await _run(fake_core, output, _options(name=name)) == EXIT_OK
    assert fake_core.registrations[0].display_name == name


async def test_without_extension_flags_the_request_is_the_plain_one(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(1, {"a": "x"})]
    output = Output(stop_on="SNAPSHOT")
    assert await _run(fake_core, output) == EXIT_OK
    [request] = fake_core.requests
    assert [descriptor.name for descriptor, _ in request.ListFields()] == ["name"]


async def test_extension_flags_ask_for_them_and_their_events_are_checked(fake_core: FakeCore) -> None:
    fake_core.events = [
        snapshot(4, {"log_level": "info"}),
        update(7, "log_level", "debug", previous=4),
        progress(9),
        batch(update(10, "logs_config.x", "1", previous=9), update(12, "log_level", "warn", previous=10)),
        progress(12),
    ]
    output = Output(stop_on="PROGRESS received (seq_id=12)")
    options = _options(keys=("log_level",), prefixes=("logs_config",), max_batch_updates=64, progress=True)
    assert await _run(fake_core, output, options) == EXIT_OK
    [request] = fake_core.requests
    assert (list(request.filter.keys), list(request.filter.prefixes)) == (["log_level"], ["logs_config"])
    assert (request.max_batch_updates, request.progress) == (64, True)
    assert "BATCH received (updates=2, seq_id=10..12)" in output.out
    assert "UPDATE #3 received (seq_id=12)" in output.out
    assert not any(line.startswith("WARNING") for line in output.out)
    assert "batches:       1" in output.out and "progress:      2" in output.out


async def test_a_lost_event_of_a_filtered_stream_fails(fake_core: FakeCore) -> None:
    fake_core.events = [snapshot(4, {"log_level": "info"}), update(9, "log_level", "debug", previous=6)]
    output = Output(stop_on="UPDATE #1")
    assert await _run(fake_core, output, _options(keys=("log_level",))) == EXIT_FAILURE
    assert "WARNING: gap: seq_id=9 follows seq_id=6 on the core's side, the last event seen was seq_id=4" in (
        output.out
    )
