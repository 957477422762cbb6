"""Each component's Params refuses a value that cannot work when it is built, naming the field, the
value and what is expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from comp.api.grpcserver import def_ as grpcserver_def
from comp.core.configstreamconsumer import def_ as consumer_def
from comp.core.remoteagent import def_ as remoteagent_def
from comp.core.remoteagentregistry import def_ as registry_def

_FILES: dict[str, Any] = {"auth_token_file": Path("token"), "cert_file": Path("cert")}


def _remote_agent(**fields: Any) -> remoteagent_def.Params:
    base: dict[str, Any] = {"core_address": "localhost:5001", "flavor": "f", "display_name": "n", **_FILES}
    return remoteagent_def.Params(**{**base, **fields})


def _consumer(**fields: Any) -> consumer_def.Params:
    return consumer_def.Params(**{**_FILES, **fields})


CASES: list[tuple[Callable[[], object], str]] = [
    (lambda: grpcserver_def.Params(stop_grace=-1), r"stop_grace: -1, expected seconds >= 0"),
    (lambda: registry_def.Params(check_interval=0), r"check_interval: 0, expected seconds > 0"),
    (lambda: registry_def.Params(max_agents=0), r"max_agents: 0, expected an integer >= 1"),
    (lambda: _remote_agent(display_name=" "), r"display_name: blank, expected a name"),
    (lambda: _remote_agent(auth_token_file=None), r"give auth_token_file and cert_file, or material"),
    (lambda: _remote_agent(retry_initial=5.0, retry_cap=1.0), r"initial 5.0, cap 1.0; expected 0 < initial"),
    (lambda: _remote_agent(listen="localhost"), r"listen: 'localhost', expected host:port \(port 0"),
    (lambda: _remote_agent(listen="unix://rel.sock"), r"listen: 'unix://rel.sock', expected .*unix:///"),
    (lambda: _remote_agent(listen="127.0.0.1:70000"), r"listen: '127.0.0.1:70000', expected host:port"),
    (lambda: _consumer(rpc_timeout=0), r"rpc_timeout: 0, expected > 0"),
    (lambda: _consumer(cert_file=None), r"give auth_token_file and cert_file, or material"),
    (lambda: _consumer(max_message_bytes=2**31), r"max_message_bytes: 2147483648, expected bytes > 0"),
]


@pytest.mark.parametrize(("build", "message"), CASES)
def test_a_bad_value_is_refused_naming_field_value_and_expectation(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_the_defaults_are_valid() -> None:
    grpcserver_def.Params()
    registry_def.Params()
    assert _remote_agent() is not None
    assert _consumer() is not None
