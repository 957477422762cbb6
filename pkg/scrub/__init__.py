"""Masking of secrets, one rule set for every output: CLI, settings, status, logs, errors, flares.

Three layers, each usable alone:

- :func:`is_secret_key`: whether a dotted config key names a credential (any segment, any depth);
- :func:`mask` / :func:`scrub_setting`: the shown form of a setting's value (secret leaves masked,
  URL credentials hidden in every other string);
- :func:`scrub_text` / :class:`TextScrubber`: free text such as log records and error messages
  (known secret values, ``key: value`` pairs, bearer tokens, URL credentials, API-key-shaped hex, PEM).

The masked form is ``********``, as the Go agent's scrubber shows passwords, tokens and other
secrets. API keys (32 characters) and application keys (40) keep their last 5 characters behind one
``*`` per hidden character (``***************************c0ffe``), as the Go agent shows them, so an
operator can tell which key is configured without it being usable.
"""

from __future__ import annotations

from pkg.scrub.names import is_secret_key, is_secret_name
from pkg.scrub.text import MIN_KNOWN_SECRET_LENGTH, TextScrubber, scrub_text
from pkg.scrub.values import MASK, mask, mask_tree, scrub_setting, scrub_string

__all__ = [
    "MASK",
    "MIN_KNOWN_SECRET_LENGTH",
    "TextScrubber",
    "is_secret_key",
    "is_secret_name",
    "mask",
    "mask_tree",
    "scrub_setting",
    "scrub_string",
    "scrub_text",
]
