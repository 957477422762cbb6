"""Bounded echoes of text that came from outside (requests, metadata, files).

A log line or an error message that repeats what a client sent must not grow with what the client
sent: ``shorten`` keeps the start and says how much was left out::

    _log.info("registered %s", shorten(request.display_name))
    # 'System Probe'  or  'xxxxxxxx…' (+2999936 chars)
"""

from __future__ import annotations

__all__ = ["DEFAULT_ECHO_LIMIT", "shorten"]

DEFAULT_ECHO_LIMIT = 64
"""Characters of outside text kept in logs and error messages."""


def shorten(text: str, limit: int = DEFAULT_ECHO_LIMIT) -> str:
    """``repr(text)`` when it has at most ``limit`` characters, else the repr of its first ``limit``
    characters followed by ``…`` and the number of characters left out.

    The repr escapes control characters, so a client cannot forge log lines with newlines.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… (+{len(text) - limit} chars)"
