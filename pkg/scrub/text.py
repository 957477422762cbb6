"""Scrubbing of free text: log records, error messages, files collected for support.

In order: the known secret values of the running configuration, PEM blocks, URL credentials,
``Bearer`` tokens, ``key: value`` / ``key=value`` pairs whose key names a credential (quoted or
not, as in YAML, JSON, HTTP headers and command lines), then API-key-shaped hex words (32 hex
characters: an API key; 40: an application key), as the Go agent's scrubber does. Each is replaced
by its masked form: ``********``, except that the value of a pair whose key names an API or
application key (:func:`~pkg.scrub.mask`) and any word of 32 or 40 hexadecimal characters, known
or found, keep their last 5 characters (:func:`~pkg.scrub.values.mask_key_shaped`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pkg.scrub.names import is_secret_key
from pkg.scrub.values import MASK, mask, mask_key_shaped, scrub_string

__all__ = ["MIN_KNOWN_SECRET_LENGTH", "TextScrubber", "scrub_text"]

# A known value shorter than this is not replaced wherever it appears: it would garble ordinary
# text ("abcd" inside words). Such a value is still hidden where it follows its key.
MIN_KNOWN_SECRET_LENGTH = 5

_BEARER = re.compile(r"\b(Bearer)(\s{1,16})([^\s\"',;*][^\s\"',;]*)")
# A key and its separator; the value is matched only after a secret key, so that a pair never
# swallows the next one ("dump: api_key: x").
# A key inside a path (".../auth_token: permission denied") is a file name, not a key.
_KEY_SEP = re.compile(r"""(?<![\w./\\])(?P<key>[A-Za-z_][\w.\-]{0,255})["']?\s{0,16}[:=]\s{0,16}""")
_VALUE = re.compile(
    r"""(?P<quote>["'])?(?P<scheme>(?i:bearer|basic|token)\s+)?"""
    r"""(?P<value>(?(quote)[^"'\n]*|[^\s"',;}\]]+))(?(quote)(?P=quote))"""
)
# user:password@host without a scheme too, in text (as the Go scrubber matches).
_BARE_CREDENTIALS = re.compile(r"(?<![\w.+-])([\w.+-]{1,64}):([^@\s\"'|:/*][^@\s\"'|/]{0,127})@(?=[\w\[])")
_HEX_KEY = re.compile(r"\b(?:[a-fA-F0-9]{32}|[a-fA-F0-9]{40})\b")


def _mask_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    for pair in _KEY_SEP.finditer(text):
        if pair.start() < done or not is_secret_key(pair["key"]):
            continue
        found = _VALUE.match(text, pair.end())
        if found is None or not found["value"] or found["value"].startswith("*"):
            continue  # nothing there, or already masked
        parts += [text[done : found.start("value")], mask(found["value"], pair["key"])]
        done = found.end("value")
    return "".join(parts) + text[done:] if parts else text


def _scrub_patterns(text: str) -> str:
    text = scrub_string(text)
    if "@" in text:
        text = _BARE_CREDENTIALS.sub(rf"\1:{MASK}@", text)
    if "Bearer" in text:
        text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{mask(m[3])}", text)
    if ":" in text or "=" in text:
        text = _mask_pairs(text)
    return _HEX_KEY.sub(lambda m: mask_key_shaped(m[0]), text)


def scrub_text(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every secret the rules of the module docstring find replaced by its mask."""
    for secret in sorted(set(known), key=len, reverse=True):
        if len(secret) >= MIN_KNOWN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, mask_key_shaped(secret))
    return _scrub_patterns(text)


class TextScrubber:
    """:func:`scrub_text` with a set of known secret values that may be replaced from any thread."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._known: tuple[str, ...] = ()
        self.set_known(known)

    def set_known(self, known: Iterable[str]) -> None:
        """Replace the known secret values (too short ones are ignored; see MIN_KNOWN_SECRET_LENGTH)."""
        values = {value for value in known if len(value) >= MIN_KNOWN_SECRET_LENGTH and value != MASK}
        self._known = tuple(sorted(values, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        return scrub_text(text, self._known)
