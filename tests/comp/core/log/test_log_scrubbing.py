"""The log filter: every secret of the running config and every credential-shaped text is scrubbed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from comp.core.config.mock import new_mock
from comp.core.log.impl import Requires, new_component
from comp.core.log.impl.masking import SecretMaskingFilter
from pkg.config.sources import Source
from pkg.util.lifecycle import Lifecycle

_log = logging.getLogger("tests.log_scrubbing")


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_every_secret_setting_and_credential_text_is_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = new_mock(
        {
            "log_level": "info",
            "proxy.password": "proxy-pass-0001",
            "db.credentials.secret": ["list-secret-01"],
            "hostname": "web-host-1",
        }
    )
    lifecycle = Lifecycle()
    new_component(Requires(lifecycle=lifecycle, config=config))
    await lifecycle.start()
    try:
        _log.info("connecting with proxy-pass-0001 and list-secret-01 from web-host-1")
        _log.info("headers {'Authorization': 'Bearer tok-0123456789'} url http://bob:pw1234@proxy:3128")
        _log.info("config dump: app_key: short, token=abc")
        config.set("my.auth_token", "later-token-77", Source.CLI)
        _log.warning("retrying with later-token-77")
        try:
            raise RuntimeError("refused password=hunter2")
        except RuntimeError:
            _log.exception("call failed")
    finally:
        await lifecycle.stop()

    err = capsys.readouterr().err
    for planted in ("proxy-pass-0001", "list-secret-01", "tok-0123456789", "pw1234", "short", "abc\n"):
        assert planted not in err
    assert "later-token-77" not in err and "hunter2" not in err
    assert "connecting with ******** and ******** from web-host-1" in err
    assert "{'Authorization': 'Bearer ********'} url http://bob:********@proxy:3128" in err
    assert "app_key: ********, token=********" in err
    assert "retrying with ********" in err
    assert "RuntimeError: refused password=********" in err


def test_filter_scrubs_stack_info_and_leaves_unformattable_records() -> None:
    masking = SecretMaskingFilter()
    masking.set_secrets(["stack-secret-1"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "in %s", ("stack-secret-1",), None)
    record.stack_info = "frame with stack-secret-1"
    assert masking.filter(record)
    assert record.getMessage() == "in ********"
    assert record.stack_info == "frame with ********"
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert masking.filter(broken) and broken.args == ("not a number",)
