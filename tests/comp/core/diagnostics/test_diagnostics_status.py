"""The remote agents' status as the core assembles it: their sections scrubbed of secrets."""

from __future__ import annotations

import json

from comp.core.config.mock import new_mock as new_config
from comp.core.diagnostics.impl.flare import scrub_section
from comp.core.diagnostics.impl.service import Diagnostics, status_to_proto
from comp.core.remoteagentregistry.def_ import QueryResult, StatusDetails
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.settings.mock import new_mock as new_settings
from pkg.remoteagent.services import STATUS_SERVICE
from pkg.util.recent_logs import RecentLogs

API_KEY = "0123456789abcdef0123456789abc0de"
PROXY_PASSWORD = "core-proxy-password-1"
PLANTED = ("hunter2-long-value", "tok-abcdef-0123", "url-pass-99", API_KEY, PROXY_PASSWORD)


class _Queries:
    """Answers every status query with the same sections."""

    def __init__(self, registry: MockRemoteAgentRegistry, details: StatusDetails) -> None:
        self._registry = registry
        self._details = details

    async def status(self) -> list[QueryResult[StatusDetails]]:
        return [QueryResult(agent, self._details) for agent in self._registry.list()]

    async def flare_files(self) -> list[QueryResult[dict[str, bytes]]]:
        return []

    async def telemetry(self) -> list[QueryResult[str]]:
        return []


def _diagnostics(details: StatusDetails) -> Diagnostics:
    values = {"api_key": API_KEY, "proxy.password": PROXY_PASSWORD, "hostname": "h"}
    registry = MockRemoteAgentRegistry()
    registry.register("7", "probe", "Probe", "127.0.0.1:1", (STATUS_SERVICE,))
    return Diagnostics(
        config=new_config(values),
        settings=new_settings(values, secrets={"api_key", "proxy.password"}),
        registry=registry,
        queries=_Queries(registry, details),
        logs=RecentLogs(),
        metrics_url=lambda: None,
    )


async def test_remote_agents_sections_are_scrubbed_with_the_known_secrets_and_the_patterns() -> None:
    details = StatusDetails(
        main={
            "state": "ready",
            "password": "hunter2-long-value",
            "last_error": "login refused: password: hunter2-long-value",
            "API key": API_KEY,
        },
        named={
            "endpoints": {
                "intake": "https://admin:url-pass-99@intake.example:443/v1",
                "headers": "Authorization: Bearer tok-abcdef-0123",
                "proxy": f"via proxy with {PROXY_PASSWORD}",
                "sent": f"key {API_KEY}",
            }
        },
    )
    (agent,) = await _diagnostics(details).remote_agents_status()

    dumped = json.dumps(agent)
    for secret in PLANTED:
        assert secret not in dumped
    assert agent["error"] is None
    assert agent["main_section"] == {
        "state": "ready",
        "password": "********",
        "last_error": "login refused: password: ********",
        "API key": "*" * 27 + "bc0de",
    }
    assert agent["named_sections"] == {
        "endpoints": {
            "intake": "https://admin:********@intake.example:443/v1",
            "headers": "Authorization: Bearer ********",
            "proxy": "via proxy with ********",
            "sent": "key " + "*" * 27 + "bc0de",
        }
    }
    shown = str(status_to_proto([agent]))
    for secret in PLANTED:
        assert secret not in shown


def test_scrub_section_keeps_ordinary_fields_and_scrubs_names() -> None:
    fields = {"state": "ready", "sequence_id": "12", "Bearer tok-abcdef-0123": "x"}
    assert scrub_section(fields, ()) == {"state": "ready", "sequence_id": "12", "Bearer ********": "x"}
    assert scrub_section({"note": "core-proxy-password-1 used"}, [PROXY_PASSWORD]) == {
        "note": "******** used"
    }
