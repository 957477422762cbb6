"""Reads and changes the running agent's configuration; reports its status."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.configstream.def_ import StreamStatus, SubscriberStatus
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings.def_ import (
    AgentStatus,
    RemoteAgentInfo,
    SettingsQuotaError,
    SettingsValueError,
    SettingView,
    StatusFields,
    StatusProvider,
)
from pkg.config.errors import ConfigError, ConfigLimitError, ConfigValueError
from pkg.config.limits import TOTAL_MAX_BYTES_KEY, VALUE_MAX_BYTES_KEY
from pkg.config.loader import env_var_name
from pkg.config.reload import ReloadReport, reload_sources
from pkg.config.safe_yaml import YamlLimitError, parse_text_value
from pkg.config.schema import ValueType
from pkg.config.sources import Source
from pkg.config.wire_size import text_size
from pkg.scrub import mask as mask_secret
from pkg.scrub import scrub_setting

__all__ = ["RuntimeSettings", "find_unencodable_text", "mask_secret", "parse_text_value"]

_log = logging.getLogger(__name__)


def _settings_error(error: ConfigError) -> SettingsValueError:
    if isinstance(error, ConfigLimitError) and error.limit == TOTAL_MAX_BYTES_KEY:
        return SettingsQuotaError(str(error))
    return SettingsValueError(str(error))


def find_unencodable_text(value: Any) -> str | None:
    """A code point in ``value`` (text, or text inside lists, sets and dicts, keys included) that
    UTF-8 cannot encode, as ``U+D800``; None when every text is valid. Such code points are lone
    surrogates, which a YAML escape (``"\\ud800"``) produces from valid text."""
    if isinstance(value, str) and value.isascii():
        return None
    pending: list[Any] = [value]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"U+{ord(item[exc.start]):04X}"
        elif isinstance(item, (list, tuple, set, frozenset, dict)) and id(item) not in seen:
            seen.add(id(item))  # YAML aliases can make a structure contain itself
            pending.extend(item.items() if isinstance(item, dict) else item)
    return None


class RuntimeSettings:
    """The settings component. ``status_providers``: the other components' parts of the status
    (the server's bound address and health, the fleet's state, the telemetry URL)."""

    def __init__(
        self,
        config: config_def.Component,
        *,
        registry: registry_def.Component | None = None,
        configstream: configstream_def.Component | None = None,
        status_providers: Sequence[StatusProvider] = (),
        version: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # What a reload reads as the environment: the process's own, as it was at start.
        self._environ = dict(os.environ if environ is None else environ)
        self._config = config
        self._registry = registry
        self._configstream = configstream
        self._status_providers = tuple(status_providers)
        self._version = version
        self._started_unix = time.time()

    async def start(self) -> None:
        self._started_unix = time.time()

    # -- reading -----------------------------------------------------------------------------

    def get(self, key: str) -> SettingView | None:
        value = self._config.get(key)
        source = self._config.get_source(key)
        if source is None and value is None:
            return None
        if isinstance(value, dict) and not self._config.is_secret(key):
            return SettingView(key, self._mask_tree(key, value), source.value if source else "")
        shown, masked = self._shown(key, value)
        return SettingView(key, shown, source.value if source else "", masked, *self._declared(key))

    def list(self, prefix: str = "", *, live_only: bool = False) -> tuple[list[SettingView], int]:
        settings, sequence_id = self._config.flattened_with_sequence_id()
        views = []
        for key in sorted(k for k in settings if k.startswith(prefix)):
            live, description = self._declared(key)
            if live_only and not live:
                continue
            setting = settings[key]
            shown, masked = self._shown(key, setting.value)
            views.append(SettingView(key, shown, setting.source.value, masked, live, description))
        return views, sequence_id

    def _declared(self, key: str) -> tuple[bool, str]:
        """Whether ``key`` is live, and its description (an open group's for a key under one)."""
        schema = self._config.schema
        spec = schema.spec(key)
        if spec is not None:
            return spec.live, spec.description
        group = schema.open_group(key)
        return group is not None, schema.open_groups().get(group, "") if group is not None else ""

    def _shown(self, key: str, value: Any) -> tuple[Any, bool]:
        """The value as an operator may see it (pkg.scrub's rules, plus keys declared secret)."""
        return scrub_setting(key, value, secret=self._config.is_secret(key))

    def _mask_tree(self, prefix: str, tree: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = {}
        for name, value in tree.items():
            key = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict) and not self._config.is_secret(key):
                masked[name] = self._mask_tree(key, value)
            else:
                masked[name] = self._shown(key, value)[0]
        return masked

    # -- changing ----------------------------------------------------------------------------

    def set_from_text(self, values: Mapping[str, str]) -> int:
        if not values:
            raise SettingsValueError("no setting given")
        for key in values:
            self._check_settable(key)
        maximum = self._config.limits.value_max_bytes
        for key, text in values.items():
            size = text_size(text)
            if size > maximum:  # before parsing: the parser's work grows with the text
                raise SettingsValueError(
                    f"invalid value for {key!r}: the text is {size} bytes, "
                    f"over {VALUE_MAX_BYTES_KEY} ({maximum})"
                )
        parsed = {key: self._parse(key, text) for key, text in values.items()}
        for key, value in parsed.items():
            # No reader could ever see such a value (the stream sends null, the Settings API escaped
            # text): refuse it here, where the caller learns why.
            bad = find_unencodable_text(value)
            if bad is not None:
                raise SettingsValueError(
                    f"invalid value for {key!r}: it holds {bad}, a lone surrogate (from a \\u escape) "
                    "that UTF-8 cannot encode; expected text of valid Unicode characters"
                )
        # A text that YAML reads as another type ("123", "off") may still be meant as a string:
        # when the key refuses the parsed value, try the text as given, once per key.
        for _attempt in range(len(parsed) + 1):
            try:
                self._config.set_many(parsed, Source.AGENT_RUNTIME)
            except ConfigValueError as exc:
                key = exc.key
                if key in values and not isinstance(parsed[key], str):
                    parsed[key] = values[key]
                    continue
                raise SettingsValueError(str(exc)) from exc
            except ConfigError as exc:
                raise _settings_error(exc) from exc
            return self._config.sequence_id
        raise SettingsValueError("the values were refused")  # pragma: no cover - the loop returns

    def _check_settable(self, key: str) -> None:
        """Refuse an undeclared key (naming close matches) and a key read only at startup."""
        try:
            refusal = self._config.schema.runtime_refusal(key)
        except ConfigError as exc:  # a malformed key
            raise SettingsValueError(str(exc)) from None
        if refusal is None:
            return
        if not refusal.restart:
            raise SettingsValueError(refusal.message)
        config_file = self._config.config_file_used()
        where = f"set it in {config_file}" if config_file is not None else "set it in the config file"
        raise SettingsValueError(
            f"{refusal.message}: {where} (or {env_var_name(refusal.key)}) and restart the agent"
        )

    def _parse(self, key: str, text: str) -> Any:
        """The text as given for a key declared as a string (``007`` stays ``007``), else YAML."""
        try:
            spec = self._config.schema.spec(key)
        except ConfigError:  # a malformed key: set_many names it
            spec = None
        if spec is not None and spec.type is ValueType.STRING:
            return text
        try:
            return parse_text_value(text)
        except YamlLimitError as exc:
            hint = (
                "; quote the text to keep it as a string" if exc.limit == "YAML anchors and aliases" else ""
            )
            limit = f" ({exc.limit}: {exc.maximum})" if exc.maximum else ""
            raise SettingsValueError(f"invalid value for {key!r}: {exc.reason}{limit}{hint}") from None

    def unset(self, key: str) -> int:
        if not key:
            raise SettingsValueError("no key given")
        try:
            self._config.unset_for_source(key, Source.AGENT_RUNTIME)
        except ConfigError as exc:
            raise _settings_error(exc) from exc
        return self._config.sequence_id

    # -- status ------------------------------------------------------------------------------

    def reload(self) -> ReloadReport:
        config_file = self._config.config_file_used()
        try:
            report = reload_sources(self._config, config_file, self._environ)
        except ConfigError as exc:
            _log.error("config reload refused, nothing changed: %s", exc)
            raise _settings_error(exc) from exc
        _log.info(
            "config reloaded from %s: %s changed%s",
            config_file or "the environment",
            ", ".join(report.applied) or "nothing",
            f"; needs a restart, not applied: {', '.join(report.restart_required)}"
            if report.restart_required
            else "",
        )
        return report

    def status(self) -> AgentStatus:
        config_file = self._config.config_file_used()
        stream = self._configstream.status() if self._configstream is not None else None
        contributed: StatusFields = {"listen_address": self._configured_address()}
        for provider in self._status_providers:
            contributed.update(provider())
        return AgentStatus(
            started_unix=self._started_unix,
            sequence_id=self._config.sequence_id,
            remote_agents=self._remote_agents(stream),
            version=self._version,
            pid=os.getpid(),
            config_file=str(config_file) if config_file is not None else "",
            stream_subscribers=self._configstream.subscriber_count if self._configstream else 0,
            stream=stream,
            **contributed,
        )

    def _configured_address(self) -> str:
        return f"{self._config.get_string('cmd_host')}:{self._config.get_int('cmd_port')}"

    def _remote_agents(self, stream: StreamStatus | None) -> tuple[RemoteAgentInfo, ...]:
        if self._registry is None or not self._registry.enabled:
            return ()
        # last_seen is a monotonic reading: shift it onto the wall clock.
        offset = time.time() - time.monotonic()
        agents = sorted(self._registry.list(), key=lambda a: (a.display_name, a.session_id))
        subscribers = stream.subscribers if stream is not None else ()
        return tuple(
            RemoteAgentInfo(
                a.session_id,
                a.display_name,
                a.flavor,
                a.pid,
                a.last_seen + offset,
                _stream_of(a.session_id, subscribers),
            )
            for a in agents
        )


def _stream_of(session_id: str, subscribers: tuple[SubscriberStatus, ...]) -> SubscriberStatus | None:
    """The open streams of one session, summed (one as a rule; several while a reconnect overlaps)."""
    mine = [s for s in subscribers if s.session_id == session_id]
    if not mine:
        return None
    return SubscriberStatus(
        name=mine[-1].name,
        session_id=session_id,
        events_sent=sum(s.events_sent for s in mine),
        lagging=any(s.lagging for s in mine),
        times_lagging=sum(s.times_lagging for s in mine),
        catch_ups=sum(s.catch_ups for s in mine),
        resyncs=sum(s.resyncs for s in mine),
        resumed=any(s.resumed for s in mine),
    )
