"""The shown form of setting values: secrets masked, URL credentials hidden."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pkg.scrub.names import is_secret_key, is_secret_name

__all__ = [
    "API_KEY_LENGTH",
    "APP_KEY_LENGTH",
    "MASK",
    "mask",
    "mask_key_shaped",
    "mask_tree",
    "scrub_setting",
    "scrub_string",
]

MASK = "********"
_SHOWN_SUFFIX = 5
# A key whose last segment names an API key (any ``api_key``/``apikey``) or an application key, with
# the length of a Datadog key of that kind: only such values keep a visible suffix.
_API_KEY_NAME = re.compile(r"api_?key")
_APP_KEY_NAME = re.compile(r"ap(?:p|plication)_?key")
API_KEY_LENGTH = 32
APP_KEY_LENGTH = 40
_HEX_KEY = re.compile(rf"[a-fA-F0-9]{{{API_KEY_LENGTH}}}|[a-fA-F0-9]{{{APP_KEY_LENGTH}}}")

# scheme://user:password@ (a value such as the tag "owner:ann@example.com" has no scheme). Every
# repetition is bounded and a scheme starts only at a boundary, so that scanning a megabyte of hostile
# text stays linear (unbounded runs made a 900 KiB value take minutes).
_URL_CREDENTIALS = re.compile(
    r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://)([^:@/\s]{1,128}):([^@\s\"'|]{1,128})@"
)
_PEM_BLOCK = re.compile(r"-----BEGIN [^-\n]*-----[A-Za-z0-9+/=\s]*-----END [^-\n]*-----")


def mask(value: Any, key: str = "") -> str:
    """The shown form of the secret ``value`` of ``key``: ``********``, whatever the secret.

    As the Go agent shows them, an API key (``key``'s last segment contains ``api_key`` or
    ``apikey``) of 32 characters and an application key (``app_key``, ``appkey``,
    ``application_key``) of 40 keep their last 5 characters behind one ``*`` per hidden character
    (``***************************c0ffe``), so that an operator can tell which key is configured.
    ``""`` stays ``""`` (and None gives ``""``): an empty secret is worth seeing as unset.
    """
    text = "" if value is None else str(value)
    if not text:
        return ""
    name = key.rpartition(".")[2].lower().replace("-", "_")
    if _APP_KEY_NAME.search(name):
        return _with_suffix(text, APP_KEY_LENGTH)
    if _API_KEY_NAME.search(name):
        return _with_suffix(text, API_KEY_LENGTH)
    return MASK


def mask_key_shaped(text: str) -> str:
    """A secret found in free text: 32 or 40 hexadecimal characters (the shape of an API or an
    application key, which the Go agent's scrubber recognises anywhere) keep their last 5 characters
    behind ``*``, as :func:`mask` shows those keys; any other text is ``********``."""
    if _HEX_KEY.fullmatch(text):
        return _with_suffix(text, len(text))
    return mask(text)


def _with_suffix(text: str, length: int) -> str:
    key = text.strip()
    if len(key) != length:
        return MASK
    return "*" * (length - _SHOWN_SUFFIX) + key[-_SHOWN_SUFFIX:]


def mask_tree(value: Any, key: str = "") -> Any:
    """Every leaf of the value of ``key`` masked by :func:`mask` (mappings and lists keep their
    shape; a mapping's leaves are masked as the keys ``key.name``); None stays None."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {name: mask_tree(item, f"{key}.{name}") for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(item, key) for item in value]
    return mask(value, key)


def scrub_string(text: str) -> str:
    """URL credentials (``http://user:********@host``) and PEM blocks hidden in an ordinary string."""
    if "@" in text and "://" in text:
        text = _URL_CREDENTIALS.sub(rf"\1\2:{MASK}@", text)
    if "-----BEGIN" in text:
        text = _PEM_BLOCK.sub(MASK, text)
    return text


def scrub_setting(key: str, value: Any, *, secret: bool = False) -> tuple[Any, bool]:
    """The shown form of ``key``'s value and whether anything was hidden.

    A secret key (by :func:`~pkg.scrub.is_secret_key`, or ``secret``: declared so by a schema) has
    every leaf masked; a mapping is walked so that secret-named children are masked; any other string
    has its URL credentials hidden.
    """
    if secret or is_secret_key(key):
        return mask_tree(value, key), value is not None
    return _scrub_plain(value)


def _scrub_plain(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        shown = scrub_string(value)
        return shown, shown != value
    if isinstance(value, Mapping):
        result: dict[Any, Any] = {}
        hidden = False
        for name, item in value.items():
            if isinstance(name, str) and any(is_secret_name(part) for part in name.split(".")):
                result[name], changed = mask_tree(item, name), item is not None
            else:
                result[name], changed = _scrub_plain(item)
            hidden = hidden or changed
        return result, hidden
    if isinstance(value, list | tuple):
        items = [_scrub_plain(item) for item in value]
        return [shown for shown, _ in items], any(changed for _, changed in items)
    return value, False
