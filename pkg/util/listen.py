"""Listen addresses: every address a host name resolves to, and why one cannot be bound.

A server that binds a name such as ``localhost`` must listen on every address the name resolves to
(``127.0.0.1`` and ``::1``), or not start: a server bound to only one of them leaves the other to
whatever process holds it, and clients that resolve the name to that address talk to that process.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from pkg.ipc.locate import format_address

__all__ = ["ListenAddress", "ListenError", "bind_problem", "resolve_listen_addresses"]

# Bind errors that mean the address family or the address does not exist on this machine (IPv6
# switched off, no ::1): no other process can hold such an address either.
_ABSENT_ERRNOS = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT})


class ListenError(OSError):
    """A listen address cannot be resolved or bound; the message names the address and the cause."""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """One resolved address to bind: ``ip`` without brackets, ``family`` AF_INET or AF_INET6."""

    family: int
    ip: str

    def with_port(self, port: int) -> str:
        """``ip:port``, the IPv6 literal in brackets."""
        return format_address(self.ip, port)


def resolve_listen_addresses(host: str, port: int) -> list[ListenAddress]:
    """Every distinct address ``host`` resolves to for a TCP listener, in resolver order.

    Raises ListenError naming the host when it does not resolve.
    """
    name = host.strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        where = format_address(host, port)
        raise ListenError(f"cannot listen on {where}: cannot resolve host: {exc.strerror}") from None
    found: dict[tuple[int, str], None] = {}
    for family, _kind, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[(family, str(sockaddr[0]))] = None
    if not found:
        raise ListenError(f"cannot listen on {format_address(host, port)}: no IPv4 or IPv6 address")
    return [ListenAddress(family, ip) for family, ip in found]


def bind_problem(address: ListenAddress, port: int) -> tuple[str, bool] | None:
    """None when ``address:port`` can be bound now; else why not (found with a plain socket: grpc
    only says that binding failed) and whether the address is absent from this machine."""
    try:
        probe = socket.socket(address.family, socket.SOCK_STREAM)
    except OSError as exc:
        return exc.strerror or str(exc), exc.errno in _ABSENT_ERRNOS
    with probe:
        # As servers do (grpc, asyncio): connections of an earlier process in TIME_WAIT do not
        # count, a socket listening on the address does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if address.family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            probe.bind((address.ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "address already in use", False
            return exc.strerror or str(exc), exc.errno in _ABSENT_ERRNOS
    return None
