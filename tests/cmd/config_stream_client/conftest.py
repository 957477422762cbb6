"""Fixtures of the config-stream-client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from comp.core.ipc.mock import MockIpc
from tests.support.fake_core import FakeCore


@pytest.fixture
async def fake_core(tmp_path: Path) -> AsyncIterator[FakeCore]:
    """A core that sends :attr:`FakeCore.events` on every stream; its files are in ``tmp_path``."""
    core = FakeCore(MockIpc(tmp_path), events=[])
    await core.start()
    try:
        yield core
    finally:
        await core.stop()
