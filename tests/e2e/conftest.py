"""Fixtures of the end-to-end tests: real ``core-agent`` processes on free loopback ports.

- ``agent``: one started agent with the harness defaults.
- ``start_agent(settings=None, **kwargs)``: start another (kwargs as :class:`harness.AgentProcess`);
  each call gets its own directory under ``tmp_path``.
- ``new_agent(...)``: like ``start_agent`` but not started (for tests of startup itself).

Every agent is stopped at teardown (SIGTERM, then SIGKILL). Tests in this directory are marked
``e2e`` automatically.
"""

from __future__ import annotations

from collections.abc import Iterator
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
