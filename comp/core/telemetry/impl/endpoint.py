"""The HTTP endpoint serving one Prometheus registry in text format at ``/metrics``.

A small threaded WSGI server (the standard library's ``wsgiref`` with prometheus_client's WSGI app)
running in a daemon thread. It is bound and started by :meth:`MetricsEndpoint.start` and shut down,
with its port freed, by :meth:`MetricsEndpoint.stop`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app

__all__ = ["METRICS_PATH", "MetricsEndpoint", "MetricsEndpointError"]

_log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"

# How often the serving thread checks for a shutdown request: bounds how long stop() waits.
_POLL_INTERVAL_SECONDS = 0.05
_JOIN_TIMEOUT_SECONDS = 5.0


class MetricsEndpointError(RuntimeError):
    """The endpoint cannot listen on its address; the message names the address and the cause."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # One thread per scrape; they must not keep the process alive at exit.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("telemetry endpoint: " + format, *args)


def _metrics_app(registry: CollectorRegistry) -> WSGIApplication:
    """prometheus_client's app, restricted to ``/metrics`` and serialised.

    The OpenTelemetry Prometheus reader keeps collected data in a queue shared by every scrape, so
    two concurrent scrapes could each see part of the other's data: one scrape at a time.
    """
    app = make_wsgi_app(registry)
    lock = threading.Lock()

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != METRICS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"not found: metrics are served at {METRICS_PATH}\n".encode()]
        with lock:
            body: Iterable[bytes] = app(environ, start_response)
            return body

    return serve


class MetricsEndpoint:
    """Serves ``registry`` at ``http://host:port/metrics`` between :meth:`start` and :meth:`stop`.

    ``port`` 0 picks a free port; :attr:`port` is the bound one while serving.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        """The bound port while serving, else None."""
        server = self._server
        return None if server is None else int(server.server_address[1])

    @property
    def url(self) -> str | None:
        """``http://host:port/metrics`` while serving, else None."""
        port = self.port
        return None if port is None else f"http://{self._host}:{port}{METRICS_PATH}"

    def start(self) -> None:
        """Bind and serve in a daemon thread. Raises MetricsEndpointError if the address is unusable."""
        if self._server is not None:
            return
        address = f"{self._host}:{self._requested_port}"
        try:
            server = make_server(
                self._host,
                self._requested_port,
                _metrics_app(self._registry),
                server_class=_ThreadingServer,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise MetricsEndpointError(f"cannot serve telemetry on {address}: {reason}") from exc
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_SECONDS},
            name=f"telemetry-endpoint-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving and close the listening socket. Blocks briefly: call it off the event loop."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT_SECONDS)
