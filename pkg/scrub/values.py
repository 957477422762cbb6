"""The shown form of setting values: secrets masked, URL credentials hidden."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pkg.scrub.names import is_secret_key, is_secret_name

__all__ = ["MASK", "mask", "mask_tree", "scrub_setting", "scrub_string"]

MASK = "********"
_SHOWN_SUFFIX = 4
_MIN_LEN_TO_SHOW_SUFFIX = 12

# scheme://user:password@ (a value such as the tag "owner:ann@example.com" has no scheme). Every
# repetition is bounded and a scheme starts only at a boundary, so that scanning a megabyte of hostile
# text stays linear (unbounded runs made a 900 KiB value take minutes).
_URL_CREDENTIALS = re.compile(
    r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://)([^:@/\s]{1,128}):([^@\s\"'|]{1,128})@"
)
_PEM_BLOCK = re.compile(r"-----BEGIN [^-\n]*-----[A-Za-z0-9+/=\s]*-----END [^-\n]*-----")


def mask(value: Any) -> str:
    """``********`` and the last 4 characters of a secret of 12 characters or more; ``""`` stays
    ``""`` (and None gives ``""``): an empty secret is worth seeing as unset."""
    text = "" if value is None else str(value)
    if not text:
        return ""
    if len(text) >= _MIN_LEN_TO_SHOW_SUFFIX:
        return MASK + text[-_SHOWN_SUFFIX:]
    return MASK


def mask_tree(value: Any) -> Any:
    """Every leaf of a value masked (mappings and lists keep their shape); None stays None."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {name: mask_tree(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(item) for item in value]
    return mask(value)


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
        return mask_tree(value), value is not None
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
                result[name], changed = mask_tree(item), item is not None
            else:
                result[name], changed = _scrub_plain(item)
            hidden = hidden or changed
        return result, hidden
    if isinstance(value, list | tuple):
        items = [_scrub_plain(item) for item in value]
        return [shown for shown, _ in items], any(changed for _, changed in items)
    return value, False
