"""Fixtures of the end-to-end tests: real ``core-agent`` processes on free loopback ports.

- ``agent``: one started agent with the harness defaults.
- ``start_agent(settings=None, **kwargs)``: start another (kwargs as :class:`harness.AgentProcess`);
  each call gets its own directory under ``tmp_path``.
- ``new_agent(...)``: like ``start_agent`` but not started (for tests of startup itself).
- ``restart(old)``: stop ``old`` if it still runs, then start a new agent in its directory and on its
  port (same token, certificate and file settings).

Every agent is stopped at teardown (SIGTERM, then SIGKILL). Tests in this directory are marked
``e2e`` automatically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import AgentFactory, AgentProcess

_E2E_DIR = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def new_agent(tmp_path: Path) -> Iterator[AgentFactory]:
    agents: list[AgentProcess] = []

    def make(settings: dict[str, Any] | None = None, **kwargs: Any) -> AgentProcess:
        agent = AgentProcess(tmp_path / f"agent{len(agents)}", settings=settings, **kwargs)
        agents.append(agent)
        return agent

    try:
        yield make
    finally:
        for agent in reversed(agents):
            agent.stop()


@pytest.fixture
def start_agent(new_agent: AgentFactory) -> AgentFactory:
    def start(settings: dict[str, Any] | None = None, **kwargs: Any) -> AgentProcess:
        agent = new_agent(settings, **kwargs)
        agent.start()
        return agent

    return start


@pytest.fixture
def agent(start_agent: AgentFactory) -> AgentProcess:
    return start_agent()


@pytest.fixture
def restart() -> Iterator[Callable[[AgentProcess], AgentProcess]]:
    started: list[AgentProcess] = []

    def make(old: AgentProcess) -> AgentProcess:
        old.stop()
        new = AgentProcess(old.directory, settings=old.settings, cmd_port=old.port, telemetry=False)
        started.append(new)
        new.start()
        return new

    try:
        yield make
    finally:
        for agent in reversed(started):
            agent.stop()
