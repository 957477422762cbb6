"""The masking rules: key names, setting values and free text, as a table of inputs and outputs."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pkg.config.errors import ConfigValueError
from pkg.config.schema import KeySpec, Schema, ValueType
from pkg.scrub import TextScrubber, is_secret_key, mask, mask_tree, scrub_setting, scrub_text


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("API_KEY", True),
        ("dd_api_key", True),
        ("apikey", True),
        ("logs_config.api_key", True),
        ("app_key", True),
        ("application_key", True),
        ("proxy.password", True),
        ("db_pass", True),
        ("mysql.passwd", True),
        ("ssl_passphrase", True),
        ("pwd", True),
        ("auth_token", True),
        ("session_token", True),
        ("token", True),
        ("github.jwt", True),
        ("client_secret", True),
        ("secret", True),
        ("vault.secret_id", True),
        ("aws.access_key", True),
        ("runner.private_key", True),
        ("snmp.community_string", True),
        ("authorization", True),
        ("headers.X-Auth-Token", True),
        ("headers.x-api-secret", True),
        ("app_key.inner", True),
        ("a.password.b.c", True),
        ("auth_token_file_path", False),
        ("ipc_cert_file_path", False),
        ("cmd_port", False),
        ("hostname", False),
        ("bypass_proxy", False),
        ("tokens_total", False),
        ("secret_backend_command", False),
        ("site", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", ""),
        (None, ""),
        ("short", "********"),
        ("01234567890", "********"),
        ("0123456789ab", "********"),
        (12345678901234, "********"),
        (True, "********"),
    ],
)
def test_mask(value: object, shown: str) -> None:
    assert mask(value) == shown


API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("api_key", API_KEY, "*" * 27 + "bcdef"),
        ("logs_config.api_key", API_KEY, "*" * 27 + "bcdef"),
        ("DD-APIKEY", f" {API_KEY} ", "*" * 27 + "bcdef"),
        ("app_key", APP_KEY, "*" * 35 + "34567"),
        ("application_key", APP_KEY, "*" * 35 + "34567"),
        ("api_key", API_KEY[:-1], "********"),
        ("api_key", APP_KEY, "********"),
        ("app_key", API_KEY, "********"),
        ("api_key", "", ""),
        ("db_password", API_KEY, "********"),
        ("auth_token", APP_KEY, "********"),
        ("client_secret", "a-long-enough-secret-value", "********"),
        ("api_key.inner", "abc", "********"),
    ],
)
def test_only_api_and_application_keys_keep_their_last_5_characters(key: str, value: str, shown: str) -> None:
    assert mask(value, key) == shown


def test_mask_tree_keeps_the_shape() -> None:
    assert mask_tree({"a": ["x", {"b": "0123456789abcdef"}], "c": None}) == {
        "a": ["********", {"b": "********"}],
        "c": None,
    }
    assert mask_tree({"api_key": API_KEY, "n": [API_KEY]}, "endpoint") == {
        "api_key": "*" * 27 + "bcdef",
        "n": ["********"],
    }


@pytest.mark.parametrize(
    ("key", "value", "shown", "hidden"),
    [
        ("api_key", "0123456789abcdef", "********", True),
        ("api_key", API_KEY, "*" * 27 + "bcdef", True),
        (
            "additional_endpoints",
            {"https://x": {"app_key": APP_KEY}},
            {"https://x": {"app_key": "*" * 35 + "34567"}},
            True,
        ),
        ("api_key", "", "", True),
        ("api_key", None, None, False),
        ("app_key", {"inner": "X"}, {"inner": "********"}, True),
        ("community_strings", ["public", "private1"], ["********", "********"], True),
        ("proxy.https", "http://user:password@host:3128", "http://user:********@host:3128", True),
        (
            "proxy",
            {"https": "http://u:p@h:1", "port": 3},
            {"https": "http://u:********@h:1", "port": 3},
            True,
        ),
        (
            "logs",
            {"endpoints": [{"api_key": "k1234", "host": "h"}]},
            {"endpoints": [{"api_key": "********", "host": "h"}]},
            True,
        ),
        ("hostname", "web-1", "web-1", False),
        ("tags", ["env:prod", "team:a@b"], ["env:prod", "team:a@b"], False),
        ("cmd_port", 5001, 5001, False),
    ],
)
def test_scrub_setting(key: str, value: Any, shown: Any, hidden: bool) -> None:
    assert scrub_setting(key, value) == (shown, hidden)


PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB0\nabc+/=\n-----END EC PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("proxy: http://user:password@host:3128", "proxy: http://user:********@host:3128"),
        ("dial postgres://admin:s3cr3t@db:5432/x", "dial postgres://admin:********@db:5432/x"),
        ("connect admin:s3cr3t@db", "connect admin:********@db"),
        ("api_key: 0123456789abcdef0123", "api_key: ********"),
        (f"api_key: {API_KEY}", "api_key: " + "*" * 27 + "bcdef"),
        (f"password: {API_KEY}", "password: ********"),
        ("api_key=abc", "api_key=********"),
        ('{"api_key": "abcdefgh12345", "site": "x"}', '{"api_key": "********", "site": "x"}'),
        ("{'password': 'hunter2'}", "{'password': '********'}"),
        ('password = "two words"', 'password = "********"'),
        ("--mysql_password=hunter22 --port=1", "--mysql_password=******** --port=1"),
        ("Authorization: Bearer 0123456789abcdef", "Authorization: Bearer ********"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", "authorization: Basic ********"),
        ("sent Bearer abcdefabcdef99 to x", "sent Bearer ******** to x"),
        ("key 0123456789abcdef0123456789abcdef here", "key " + "*" * 27 + "bcdef here"),
        ("app " + "a" * 36 + "beef", "app " + "*" * 35 + "abeef"),
        ("cert " + PEM + " end", "cert ******** end"),
        ("auth_token_file_path: /etc/token", "auth_token_file_path: /etc/token"),
        (
            "cannot read /run/agent/auth_token: Permission denied",
            "cannot read /run/agent/auth_token: Permission denied",
        ),
        ("api_key: ********cdef", "api_key: ********cdef"),
        ("log_level: debug, port=5001", "log_level: debug, port=5001"),
        ("missing bearer token; a basic configuration", "missing bearer token; a basic configuration"),
        ("", ""),
    ],
)
def test_scrub_text(text: str, scrubbed: str) -> None:
    assert scrub_text(text) == scrubbed


def test_known_values_are_replaced_anywhere_longest_first() -> None:
    known = ["fedcba9876543210", "fedcba9876543210-extended", "abcd"]
    text = "k=fedcba9876543210-extended; x fedcba9876543210 abcd"
    assert scrub_text(text, known) == "k=********; x ******** abcd"
    assert scrub_text(f"sent {APP_KEY}.", [APP_KEY]) == "sent " + "*" * 35 + "34567."


def test_text_scrubber_swaps_known_values_from_another_thread() -> None:
    scrubber = TextScrubber(["first-secret"])
    assert scrubber.scrub("first-secret") == "********"
    worker = threading.Thread(target=scrubber.set_known, args=(["second-secret", "abc", "********"],))
    worker.start()
    worker.join()
    assert scrubber.scrub("first-secret second-secret abc ********") == "first-secret ******** abc ********"


@pytest.mark.parametrize(
    ("key", "value", "secret", "shown"),
    [
        ("api_key", ["planted-list-key"], None, "'api_key': ******** (a list), expected a string"),
        ("api_key", 1234567890123, None, "'api_key': ******** (an int), expected a string"),
        (
            "proxy.password",
            "planted-password",
            None,
            "'proxy.password': ******** (a string), expected a string",
        ),
        ("declared", "planted-value", True, "'declared': ******** (a string), expected a string"),
        ("api_key", API_KEY, True, "'api_key': " + "*" * 27 + "bcdef (a string), expected a string"),
        ("hostname", ["web"], None, "'hostname': ['web'], expected a string"),
    ],
)
def test_config_value_error_masks_secret_values(
    key: str, value: Any, secret: bool | None, shown: str
) -> None:
    error = ConfigValueError(key, value, "a string", secret=secret)
    assert str(error) == f"invalid value for {shown}"
    assert error.value == value


def test_schema_masks_a_declared_secret_in_its_errors() -> None:
    schema = Schema([KeySpec("vault.handle", ValueType.INT, 0, secret=True)])
    with pytest.raises(ConfigValueError) as raised:
        schema.validate("vault.handle", "planted-handle-value")
    assert "planted" not in str(raised.value) and ": ******** (a string)" in str(raised.value)


def test_a_key_declared_secret_is_masked_whatever_its_name() -> None:
    assert scrub_setting("etcd.credential", "0123456789abcdef", secret=True) == ("********", True)
    assert scrub_setting("etcd.credential", "0123456789abcdef") == ("0123456789abcdef", False)
