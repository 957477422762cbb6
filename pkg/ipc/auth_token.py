"""The bearer token shared by the core agent and its clients: 32 random bytes as 64 hex characters.

Clients only load the token: what creates and compares tokens is imported where it is used, so that
a command-line client starts without it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pkg.ipc.errors import IpcError
from pkg.ipc.secret_files import publish_new_file, read_private_file

__all__ = [
    "AUTH_TOKEN_BYTES",
    "MIN_AUTH_TOKEN_LENGTH",
    "create_or_load_auth_token",
    "generate_auth_token",
    "load_auth_token",
    "parse_auth_token",
    "tokens_match",
]

_log = logging.getLogger(__name__)

AUTH_TOKEN_BYTES = 32
MIN_AUTH_TOKEN_LENGTH = 2 * AUTH_TOKEN_BYTES
_WHAT = "auth token file"


def generate_auth_token() -> str:
    """A fresh token: 32 bytes from the OS's secure random source, as hex."""
    import secrets

    return secrets.token_hex(AUTH_TOKEN_BYTES)


def parse_auth_token(data: bytes, path: Path) -> str:
    """Validate the content of a token file (surrounding whitespace ignored) and return the token."""
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise IpcError(
            f"{_WHAT} {path} is not ASCII text; delete it to have the core agent create a new one"
        ) from None
    if len(token) < MIN_AUTH_TOKEN_LENGTH:
        raise IpcError(
            f"{_WHAT} {path} holds {len(token)} characters, expected at least {MIN_AUTH_TOKEN_LENGTH} "
            "(32 random bytes as hex); delete it to have the core agent create a new one"
        )
    if not all("!" <= c <= "~" for c in token):
        raise IpcError(f"{_WHAT} {path} holds characters that cannot appear in an authorization header")
    return token


def load_auth_token(path: Path) -> str:
    """Load an existing token (client side). Raises IpcFileMissingError, InsecureFileModeError, IpcError."""
    return parse_auth_token(read_private_file(path, _WHAT, max_size=4096), path)


def create_or_load_auth_token(path: Path) -> str:
    """Load the token at ``path``, creating it first (mode 0600, parents 0700) when it does not exist.

    Safe against another process doing the same at the same time: both end up with the same token.
    """
    if not path.exists() and publish_new_file(path, generate_auth_token().encode("ascii")):
        _log.info("created auth token file %s", path)
    return load_auth_token(path)


def tokens_match(presented: str, expected: str) -> bool:
    """Compare two tokens in constant time (with respect to their content)."""
    import hmac

    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
