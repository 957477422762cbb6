"""Which config keys name credentials.

The rules follow the key-name rules of the Go agent's scrubber (``pkg/util/scrubber/default.go``),
applied to each dotted segment of a key, case-insensitively, with ``-`` read as ``_``. A segment is
secret when it:

- contains ``api_key``/``apikey`` or ``app_key``/``appkey``/``application_key``;
- contains ``password``, or has a word ``pass``, ``passwd``, ``passphrase``, ``passcode``, ``pwd``
  or ``pswd`` (``db_pass``, ``pwd``; not ``bypass``);
- ends with ``token`` or ``jwt`` (``auth_token``, ``session_token``, ``accesstoken``);
- ends with ``secret`` or ``secret_id``, ``access_key`` or ``private_key``;
- is ``token_id``, ``consumer_key``, ``auth_key``/``authkey``, ``priv_key``/``privkey``,
  ``authentication_key``, ``privacy_key``, ``community``, ``community_string(s)``,
  ``authorization``, ``cookie``, ``statuskey`` or ``sec_websocket_key``;
- is an HTTP-header-style name ``x_..._key``, ``x_..._token``, ``x_..._auth``, ``x_..._secret``.

A key is secret when any of its segments is: every leaf under a secret-named mapping is secret too
(``app_key.inner``). ``auth_token_file_path`` is not: it names a file, and its last word is ``path``.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["is_secret_key", "is_secret_name"]

_SECRET_NAME = re.compile(
    r"""
    .*ap(?:i|p|plication)_?key.*
    | .*password.*
    | (?:.*_)?(?:pass|passwd|passphrase|passcode|pwd|pswd)(?:_.*)?
    | .*(?:token|jwt)
    | .*secret(?:_id)?
    | .*(?:access|private)_key
    | token_id | consumer_key | auth_?key | priv_?key | authentication_key | privacy_key
    | community(?:_strings?)? | authorization | cookie | statuskey | sec_websocket_key
    | x_.*(?:key|token|auth|secret)
    """,
    re.VERBOSE,
)


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when one key segment (``api_key``, ``X-Auth-Token``) names a credential."""
    return _SECRET_NAME.fullmatch(name.strip().lower().replace("-", "_")) is not None


def is_secret_key(key: str) -> bool:
    """True when any dotted segment of ``key`` names a credential (``proxy.password``, ``app_key.x``)."""
    return any(is_secret_name(segment) for segment in key.split("."))
