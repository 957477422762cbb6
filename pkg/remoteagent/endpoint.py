"""The ``api_endpoint_uri`` a remote agent registers: where the core agent dials it.

Accepted forms: ``https://host:port``, a bare ``host:port`` and ``unix:///absolute/path``; the empty
text means the agent serves nothing to the core. Anything else is refused with a message naming the
value and the expected forms.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from pkg.ipc.locate import format_address

__all__ = ["MAX_URI_LENGTH", "EndpointError", "grpc_target"]

MAX_URI_LENGTH = 4096
_EXPECTED = "https://host:port, host:port or unix:///path"


class EndpointError(ValueError):
    """An ``api_endpoint_uri`` that is not one of the accepted forms."""


def _refuse(uri: str, why: str) -> EndpointError:
    shown = uri if len(uri) <= 200 else uri[:200] + "..."
    return EndpointError(f"invalid api_endpoint_uri {shown!r}: {why}; expected {_EXPECTED}")


def _host_port(uri: str, text: str) -> str:
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise _refuse(uri, "missing port")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse(uri, f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise _refuse(uri, "missing port")
        if not host:
            raise _refuse(uri, "missing host")
        if any(c in host for c in "/@?#[] ") or ":" in host:
            raise _refuse(uri, f"{host!r} is not a host name or address")
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise _refuse(uri, f"port {port!r} is not a number from 1 to 65535")
    return format_address(host, int(port))


def grpc_target(uri: str) -> str | None:
    """The grpc target to dial for ``uri`` (None for the empty text). Raises EndpointError."""
    if uri == "":
        return None
    if len(uri) > MAX_URI_LENGTH:
        raise _refuse(uri, f"longer than {MAX_URI_LENGTH} characters")
    if uri != uri.strip() or any(ord(c) < 0x21 for c in uri):
        raise _refuse(uri, "contains spaces or control characters")
    if uri.startswith("unix://"):
        path = uri[len("unix://") :]
        if not path.startswith("/") or path == "/":
            raise _refuse(uri, "a unix socket needs an absolute path (unix:///path)")
        return f"unix://{path}"
    if "://" in uri:
        parsed = urllib.parse.urlsplit(uri)
        if parsed.scheme != "https":
            raise _refuse(uri, f"scheme {parsed.scheme!r} is not supported")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment or "@" in parsed.netloc:
            raise _refuse(uri, "only a host and a port may follow https://")
        return _host_port(uri, parsed.netloc)
    return _host_port(uri, uri)
