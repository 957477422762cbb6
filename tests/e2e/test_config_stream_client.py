"""``config-stream-client`` against a real core agent: snapshot, a runtime change, clean exits."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import AgentFactory, AgentProcess

CLIENT_TIMEOUT = 30.0


class ClientProcess:
    """``python -m config_stream_client`` with its stdout read line by line in a thread."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config_stream_client", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, prefix: str, timeout: float = CLIENT_TIMEOUT) -> str:
        """The next line starting with ``prefix``; fails with everything read so far on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"no line starting with {prefix!r} within {timeout}s; output: {self.lines}")
            if line is None:
                pytest.fail(f"output ended before a line starting with {prefix!r}: {self.lines}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def finish(self, timeout: float = CLIENT_TIMEOUT) -> tuple[int, str]:
        """Exit code and stderr once the process ends (the rest of stdout joins ``lines``)."""
        code = self.process.wait(timeout)
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def clients() -> Iterator[list[ClientProcess]]:
    started: list[ClientProcess] = []
    try:
        yield started
    finally:
        for client in started:
            client.kill()


def test_prints_snapshot_and_a_runtime_update_then_exits_zero(
    agent: AgentProcess, clients: list[ClientProcess]
) -> None:
    client = ClientProcess("-c", str(agent.config_file), "--name", "e2e-client", "--max-samples", "3")
    clients.append(client)
    header = client.wait_for_line("SNAPSHOT received (seq_id=")
    samples = [client.wait_for_line("  ") for _ in range(3)]
    assert all(re.fullmatch(r"  [a-z0-9_.]+ = .* \(source: [a-z-]+\)", line) for line in samples), samples
    assert client.wait_for_line("  ").startswith("  ... and ")
    result = agent.run_cli("config", "set", "log_level", "debug")
    assert result.returncode == 0, result.stderr
    update = client.wait_for_line("UPDATE #1 received (seq_id=")
    assert client.wait_for_line("  ") == "  log_level = debug (source: agent-runtime)"
    client.process.send_signal(signal.SIGINT)
    code, err = client.finish()
    assert code == 0, (client.lines, err)
    assert err == ""
    assert "--- summary ---" in client.lines
    assert "updates:       1" in client.lines
    assert client.lines[-1] == "result:        OK"
    header_seq = int(header.split("seq_id=")[1].split(",")[0])
    assert update == f"UPDATE #1 received (seq_id={header_seq + 1})"


def test_ends_by_itself_after_duration_with_status_zero(
    agent: AgentProcess, clients: list[ClientProcess]
) -> None:
    client = ClientProcess("-c", str(agent.config_file), "--duration", "1s", "--max-samples", "0")
    clients.append(client)
    code, err = client.finish()
    assert code == 0, (client.lines, err)
    assert client.lines[0].startswith("SNAPSHOT received")
    assert client.lines[1].startswith("  ... and ")
    assert "snapshots:     1" in client.lines


def test_wrong_token_fails_with_a_clear_message(
    agent: AgentProcess, clients: list[ClientProcess], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * 64)
    wrong.chmod(0o600)
    client = ClientProcess(
        "--ipc-address",
        agent.address,
        "--auth-token-file",
        str(wrong),
        "--cert-file",
        str(agent.ipc_cert_path),
        "--duration",
        "10s",
    )
    clients.append(client)
    code, err = client.finish()
    assert code == 1
    assert f"error: core agent at {agent.address} answered UNAUTHENTICATED: invalid auth token" in err
    assert "SNAPSHOT" not in "\n".join(client.lines)


def test_a_snapshot_over_4_mib_arrives_when_the_core_config_allows_larger_messages(
    start_agent: AgentFactory, clients: list[ClientProcess]
) -> None:
    big = {f"custom.big{i}": chr(ord("a") + i) * 1_000_000 for i in range(6)}
    agent = start_agent(
        {
            "agent_ipc.grpc_max_message_size": 16 * 1024 * 1024,
            "config_limits.total_max_bytes": 12 * 1024 * 1024,
            **big,
        }
    )
    client = ClientProcess("-c", str(agent.config_file), "--duration", "2s", "--max-samples", "0")
    clients.append(client)
    code, err = client.finish()
    assert code == 0, (client.lines, err)
    assert err == ""
    header = client.lines[0]
    assert header.startswith("SNAPSHOT received (seq_id="), client.lines
    assert int(header.split("settings=")[1].rstrip(")")) > len(big)
    assert "snapshots:     1" in client.lines
    assert client.lines[-1] == "result:        OK"
