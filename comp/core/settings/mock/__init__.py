"""A test double of the runtime settings component: settings in a dict, a fixed status.

Usage::

    settings = new_mock({"log_level": "info", "api_key": "secret"}, secrets={"api_key"})
    settings.set_from_text({"log_level": "debug"})     # sequence id 1
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Mapping
from typing import Any

from comp.core.settings.def_ import AgentStatus, ReloadReport, SettingsValueError, SettingView

__all__ = ["MockSettings", "new_mock"]

_RUNTIME = "agent-runtime"


class MockSettings:
    """Implements the settings ``Component`` over two dicts (source ``file`` and ``agent-runtime``);
    runtime values are stored as the text given.

    ``refuse`` holds keys whose every value is refused (to test error paths); they are not live.
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        secrets: Iterable[str] = (),
        refuse: Iterable[str] = (),
        listen_address: str = "localhost:5001",
    ) -> None:
        self._file: dict[str, Any] = dict(settings or {})
        self._runtime: dict[str, Any] = {}
        self._secrets = frozenset(secrets)
        self._refuse = frozenset(refuse)
        self._listen_address = listen_address
        self.sequence_id = 0

    def _keys(self) -> set[str]:
        return set(self._file) | set(self._runtime)

    def _view(self, key: str) -> SettingView:
        value, source = (self._runtime[key], _RUNTIME) if key in self._runtime else (self._file[key], "file")
        if key in self._secrets:
            return SettingView(key, "********", source, masked=True)
        return SettingView(key, value, source)

    def get(self, key: str) -> SettingView | None:
        return self._view(key) if key in self._keys() else None

    def list(self, prefix: str = "", *, live_only: bool = False) -> tuple[builtins.list[SettingView], int]:
        keys = sorted(k for k in self._keys() if k.startswith(prefix))
        return [self._view(k) for k in keys if not live_only or k not in self._refuse], self.sequence_id

    def set_from_text(self, values: Mapping[str, str]) -> int:
        refused = sorted(set(values) & self._refuse)
        if not values or refused:
            raise SettingsValueError(f"invalid value for {refused[0]!r}" if refused else "no setting given")
        for key, text in values.items():
            self._runtime[key] = text
            self.sequence_id += 1
        return self.sequence_id

    def unset(self, key: str) -> int:
        if self._runtime.pop(key, None) is not None:
            self.sequence_id += 1
        return self.sequence_id

    def reload(self) -> ReloadReport:
        """Nothing to re-read: reports no change."""
        return ReloadReport(applied=(), restart_required=(), sequence_id=self.sequence_id)

    def status(self) -> AgentStatus:
        return AgentStatus(
            started_unix=0.0,
            listen_address=self._listen_address,
            sequence_id=self.sequence_id,
            remote_agents=(),
            version="",
            pid=os.getpid(),
            config_file="",
            stream_subscribers=0,
        )


def new_mock(settings: Mapping[str, Any] | None = None, **kwargs: Any) -> MockSettings:
    """A :class:`MockSettings`; see its docstring for the keyword arguments."""
    return MockSettings(settings, **kwargs)
