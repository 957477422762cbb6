"""The examples of the README's "Writing a remote agent", of docs/writing-a-remote-agent.md and of
docs/remote-agents.md, run as written: the agents against a real core agent process, the example
test against the mock."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import AgentProcess
from tests.support.polling import eventually_sync

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", ROOT / "docs" / "writing-a-remote-agent.md", ROOT / "docs" / "remote-agents.md")
WAIT = 20.0
_EXAMPLE = re.compile(r"```python\n# example: (\S+)\n(.*?)```", re.DOTALL)


def examples() -> dict[str, str]:
    """The docs' complete programs by file name (blocks that start with ``# example: NAME``)."""
    found = {name: code for doc in DOCS for name, code in _EXAMPLE.findall(doc.read_text(encoding="utf-8"))}
    assert set(found) == {"async_agent.py", "sync_agent.py", "test_my_agent.py", "serving_agent.py"}
    return found


def test_the_example_test_passes() -> None:
    namespace: dict[str, object] = {"__name__": "example"}
    exec(compile(examples()["test_my_agent.py"], "test_my_agent.py", "exec"), namespace)
    test = namespace["test_follows_log_level"]
    assert callable(test)
    asyncio.run(test())


class Script:
    """An example run as a program; its stdout read line by line on a thread."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(path)],
            cwd=path.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str) -> re.Match[str]:
        """The next line that matches ``pattern`` (fails on a timeout or when the output ends)."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} after {WAIT}s; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"output ended before a line matching {pattern!r}; saw {self.seen}")
            self.seen.append(line)
            match = re.fullmatch(pattern, line)
            if match:
                return match

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(WAIT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(tmp_path / "core", telemetry=False)
    # As the guide says: the agent's key declared in config_keys.d beside datadog.yaml.
    (tmp_path / "core" / "config_keys.d" / "my_agent.yaml").write_text(
        "keys:\n  - {key: my_agent.batch_size, type: int, default: 100, minimum: 1, live: true}\n",
        encoding="utf-8",
    )
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def core_with_metrics(tmp_path: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(tmp_path / "core")
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def _run(name: str, core: AgentProcess, tmp_path: Path) -> Script:
    """Run example ``name`` with nothing but the environment to find ``core`` by: DD_CMD_* and the
    default state directory (``$XDG_STATE_HOME/core-agent``), as an agent on a host would."""
    state_home = tmp_path / "state-home"
    state_home.mkdir()
    (state_home / "core-agent").symlink_to(core.directory)
    path = tmp_path / name
    path.write_text(examples()[name], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env.update(
        PYTHONUNBUFFERED="1",
        XDG_STATE_HOME=str(state_home),
        DD_CMD_HOST=core.host,
        DD_CMD_PORT=str(core.port),
    )
    return Script(path, env)


def _config_set(core: AgentProcess, key: str, value: str) -> None:
    result = core.run_cli("config", "set", key, value)
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_the_async_example_follows_the_core(core: AgentProcess, tmp_path: Path) -> None:
    script = _run("async_agent.py", core, tmp_path)
    try:
        script.expect("log level: info")
        script.expect("batch size: 100")
        _config_set(core, "log_level", "debug")
        script.expect(r"log_level changed to 'debug' \(source: agent-runtime\)")
        _config_set(core, "my_agent.batch_size", "300")
        script.expect(r"my_agent.batch_size changed to 300 \(source: agent-runtime\)")
        assert script.stop(signal.SIGINT) == 0
        script.expect("stopped")
    finally:
        script.kill()


@pytest.mark.e2e
def test_the_sync_example_follows_the_core(core: AgentProcess, tmp_path: Path) -> None:
    script = _run("sync_agent.py", core, tmp_path)
    try:
        script.expect("log level: info")
        script.expect(r"tags: \[\]")
        _config_set(core, "hostname", "elsewhere")  # not a key the example follows
        _config_set(core, "log_level", "warn")
        script.expect(r"log_level changed to 'warn' \(source: agent-runtime\)")
        assert script.stop(signal.SIGTERM) == 0
        script.expect("stopped")
        assert not any("hostname" in line for line in script.seen)
    finally:
        script.kill()


def _remote_agent(core: AgentProcess, display_name: str) -> dict[str, Any] | None:
    """The agent's entry in ``core-agent status --json`` once the core has its status, else None."""
    result = core.run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    for agent in json.loads(result.stdout)["remote_agents"]:
        if agent["display_name"] == display_name and agent["main_section"]:
            found: dict[str, Any] = agent
            return found
    return None


@pytest.mark.e2e
def test_the_serving_example_shows_up_in_status_flare_and_metrics(
    core_with_metrics: AgentProcess, tmp_path: Path
) -> None:
    core = core_with_metrics
    script = _run("serving_agent.py", core, tmp_path)
    try:
        script.expect("serving; log level: info")
        mine = eventually_sync(
            lambda: _remote_agent(core, "My Agent"), "the example in the core's status", WAIT
        )
        assert mine["error"] is None
        assert mine["main_section"]["state"] == "ok"
        assert int(mine["main_section"]["jobs_done"]) >= 0
        assert mine["named_sections"]["queue"] == {"depth": "0"}
        assert mine["api_endpoint_uri"].startswith("https://127.0.0.1:")

        out = tmp_path / "flare.zip"
        result = core.run_cli("flare", "--output", str(out))
        assert result.returncode == 0, result.stderr
        with zipfile.ZipFile(out) as archive:
            assert archive.read("My_Agent/jobs.txt").startswith(b"jobs done: ")

        with urllib.request.urlopen(
            f"http://127.0.0.1:{core.telemetry_port}/metrics", timeout=WAIT
        ) as response:
            families = list(text_string_to_metric_families(response.read().decode()))
        jobs = [s for f in families for s in f.samples if s.name == "my_agent_jobs_total"]
        assert [s.labels for s in jobs] == [{"emitter": "My_Agent"}]

        assert script.stop(signal.SIGINT) == 0
        script.expect("stopped")
    finally:
        script.kill()
