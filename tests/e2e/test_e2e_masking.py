"""Secrets planted in a real agent's config never reach ``config list``/``get``, status or the logs."""

from __future__ import annotations

import pytest

from tests.e2e.harness import AgentFactory, AgentProcess

pytestmark = pytest.mark.e2e

PLANTED = {
    "proxy.https": "http://proxyuser:planted-url-pass@proxy.local:3128",
    "app_key": {"inner": "planted-app-inner-value"},
    "custom.db_password": "planted-db-password",
    "custom.service_auth_token": "planted-service-token",
    "snmp.community_strings": ["planted-community-one"],
}
SECRET_TEXTS = (
    "planted-url-pass",
    "planted-app-inner-value",
    "planted-db-password",
    "planted-service-token",
    "planted-community-one",
)


def _assert_clean(text: str) -> None:
    for secret in SECRET_TEXTS:
        assert secret not in text


def test_config_list_get_status_and_logs_never_show_planted_secrets(start_agent: AgentFactory) -> None:
    agent: AgentProcess = start_agent(PLANTED)

    listing = agent.run_cli("config", "list")
    assert listing.returncode == 0, listing.stderr
    _assert_clean(listing.stdout)
    lines = listing.stdout.splitlines()
    assert "proxy.https = http://proxyuser:********@proxy.local:3128 (file)" in lines
    assert "app_key.inner = ******** (file)" in lines
    assert "custom.db_password = ******** (file)" in lines
    assert 'snmp.community_strings = ["********"] (file)' in lines

    for key in ("proxy", "app_key", "custom", "custom.service_auth_token", "snmp"):
        got = agent.run_cli("config", "get", key)
        assert got.returncode == 0, got.stderr
        _assert_clean(got.stdout)
    assert agent.run_cli("config", "get", "app_key").stdout.strip() == '{"inner": "********"}'

    changed = agent.run_cli("config", "set", "custom.new_secret", "planted-runtime-secret")
    assert changed.returncode == 0, changed.stderr
    assert "planted-runtime-secret" not in agent.run_cli("config", "list").stdout
    status = agent.run_cli("status")
    _assert_clean(status.stdout)

    agent.stop()
    log = agent.log_text()
    _assert_clean(log)
    assert "planted-runtime-secret" not in log


def test_a_secret_of_the_wrong_type_is_not_echoed_in_the_startup_error(new_agent: AgentFactory) -> None:
    agent = new_agent({"api_key": ["planted-list-api-key"]})
    agent.start(wait=False)
    assert agent.wait() == 1
    log = agent.log_text()
    assert "planted-list-api-key" not in log
    assert "invalid value for 'api_key'" in log and "******** (a list), expected a string" in log
    assert "Traceback" not in log
