"""The real binaries never print a traceback: bad arguments, bad files, refusals and a closed output
each end with a documented exit code and at most one line on stderr (after argparse's usage)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import CLI_TIMEOUT, AgentFactory, AgentProcess

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
EXIT_FAILURE, EXIT_USAGE = 1, 2


def _run(*argv: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=CLI_TIMEOUT,
        check=False,
        cwd=cwd,
        env={"PATH": str(BIN), "GRPC_VERBOSITY": "NONE", "HOME": str(cwd or Path.cwd())},
    )


def _assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if "| INFO |" not in line]
    last = lines[-1]
    if code == EXIT_FAILURE:
        assert len(lines) == 1, result.stderr
    for word in words:
        assert word in last, last


@pytest.mark.parametrize(
    "argv",
    [
        (b"core-agent", b"config", b"get", b"\xff"),
        (b"core-agent", b"config", b"set", b"log_level", b"de\xffbug"),
        (b"core-agent", b"config", b"list", b"\xfe"),
        (b"config-stream-client", b"--name", b"\xff"),
        (b"config-stream-client", b"--ipc-address", b"local\xffhost:1"),
        (b"sample-remote-agent", b"--name", b"a\xff"),
    ],
)
def test_invalid_utf8_arguments_are_usage_errors(argv: tuple[bytes, ...], tmp_path: Path) -> None:
    result = _run(str(BIN / argv[0].decode()).encode(), *argv[1:], cwd=tmp_path)
    _assert_one_line_failure(result, EXIT_USAGE, "is not valid UTF-8 text")


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    not_utf8 = tmp_path / "latin1.yaml"
    not_utf8.write_bytes(b"hostname: caf\xe9\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("log_level: [unclosed\n", encoding="utf-8")
    return {"missing": tmp_path / "absent.yaml", "directory": tmp_path, "not-utf8": not_utf8, "yaml": broken}


@pytest.mark.parametrize("kind", ["missing", "directory", "not-utf8", "yaml"])
@pytest.mark.parametrize(
    "command",
    [
        ("core-agent", "run", "-c"),
        ("core-agent", "config", "list", "-c"),
        ("core-agent", "status", "-c"),
        ("config-stream-client", "--duration", "1s", "-c"),
        ("sample-remote-agent", "--wait-timeout", "1", "-c"),
    ],
)
def test_bad_config_files_fail_in_one_line(command: tuple[str, ...], kind: str, tmp_path: Path) -> None:
    path = _bad_files(tmp_path)[kind]
    result = _run(str(BIN / command[0]), *command[1:], str(path), cwd=tmp_path)
    _assert_one_line_failure(result, EXIT_FAILURE, str(path) if kind != "directory" else str(tmp_path))


def test_a_refused_change_fails_in_one_line(agent: AgentProcess) -> None:
    result = _run(str(BIN / "core-agent"), "config", "set", "log_level", "verbose", *agent.location_args())
    _assert_one_line_failure(result, EXIT_FAILURE, "log_level", "verbose")
    got = _run(str(BIN / "core-agent"), "config", "get", "no.such.key", *agent.location_args())
    _assert_one_line_failure(got, EXIT_FAILURE, "no.such.key")


@pytest.mark.parametrize(
    "command",
    [
        ("core-agent", "config", "list"),
        ("core-agent", "status"),
        ("config-stream-client", "--duration", "2s"),
    ],
)
def test_a_closed_output_ends_quietly(command: tuple[str, ...], agent: AgentProcess) -> None:
    location = agent.location_args() if command[0] == "core-agent" else ["-c", str(agent.config_file)]
    process = subprocess.Popen(
        [str(BIN / command[0]), *command[1:], *location],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": str(BIN), "GRPC_VERBOSITY": "NONE"},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line is written, as after `| head`
    stderr = process.stderr.read().decode(errors="replace")
    assert process.wait(timeout=CLI_TIMEOUT) == 0, stderr
    assert stderr == ""


def test_core_agent_on_localhost_fails_when_another_process_holds_its_ipv4_address(
    new_agent: AgentFactory,
) -> None:
    if "127.0.0.1" not in {
        info[4][0] for info in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)
    }:
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        agent = new_agent({"cmd_host": "localhost"}, cmd_port=port)
        agent.start(wait=False)
        assert agent.wait() == EXIT_FAILURE
    log = agent.log_text()
    assert "Traceback" not in log
    assert f"core-agent: cannot start: starting grpc server failed: cannot listen on 127.0.0.1:{port}" in log
    assert "address already in use" in log
