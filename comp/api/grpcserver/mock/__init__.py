"""A test double of the IPC gRPC server: a fixed address, nothing listening."""

from __future__ import annotations

from comp.api.grpcserver.def_ import Component
from pkg.ipc.locate import format_address

__all__ = ["MockGrpcServer", "new_mock"]


class MockGrpcServer:
    """Answers ``address``/``port`` with the values it was given."""

    def __init__(self, host: str = "localhost", port: int = 5001) -> None:
        self._host = host
        self._port = port

    @property
    def address(self) -> str:
        return format_address(self._host, self._port)

    @property
    def port(self) -> int:
        return self._port

    @property
    def health(self) -> str:
        return "SERVING"


def new_mock(host: str = "localhost", port: int = 5001) -> Component:
    """A :class:`MockGrpcServer` typed as the component."""
    return MockGrpcServer(host, port)
