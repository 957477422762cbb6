"""What a remote agent built by a facade serves to the core agent: its status, flare files and
telemetry, answered by the author's functions.

``connect_config_stream`` takes async functions, ``SyncConfigStream`` plain ones, which it calls on a
worker thread of its event loop (never on the loop itself nor on the callback thread, so a slow
provider holds up neither the stream nor the change callbacks). What each returns:

- ``status()``: ``(main fields, {section name: fields})``, every field a ``str -> str`` mapping;
- ``flare()``: ``{file name: bytes}``, secrets already masked;
- ``telemetry()``: Prometheus text exposition.

With any of them given, the facade builds the remote agent component (its own server at ``listen``,
registration advertising those services, refresh) and hands its session to the consumer, so the
agent registers once. A result of the wrong shape fails that query (INTERNAL, naming the provider and
what was expected) and is logged; the stream goes on.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from comp.api.grpcserver.def_ import GrpcService
from comp.core.configstreamconsumer import def_ as consumer_def
from comp.core.remoteagent import def_ as remoteagent_def
from pkg.remoteagent.providers import (
    AddToServer,
    Sections,
    flare_service,
    status_service,
    telemetry_service,
)

__all__ = [
    "DEFAULT_LISTEN",
    "AgentServing",
    "FlareFiles",
    "Sections",
    "agent_serving",
    "registration_params",
]

DEFAULT_LISTEN = remoteagent_def.DEFAULT_LISTEN

FlareFiles = Mapping[str, bytes]
"""A flare's files: file name -> content."""

_EXPECTED = {
    "status": "(main fields, {section name: fields}) with str -> str fields",
    "flare": "{file name: bytes}",
    "telemetry": "Prometheus text (str)",
}


@dataclass(frozen=True)
class AgentServing:
    """The remote agent component's parameters and the services it serves."""

    params: remoteagent_def.Params
    services: tuple[GrpcService, ...]


def registration_params(
    consumer: consumer_def.Params, listen: str = DEFAULT_LISTEN
) -> remoteagent_def.Params:
    """The remote agent component's parameters for the consumer's core agent and identity, serving at
    ``listen``. Raises ValueError naming ``listen`` when it is not ``host:port`` or ``unix:///path``."""
    return remoteagent_def.Params(
        core_address=consumer.ipc_address,
        flavor=consumer.flavor,
        display_name=consumer.display_name,
        auth_token_file=consumer.auth_token_file,
        cert_file=consumer.cert_file,
        material=consumer.material,
        listen=listen,
    )


def _is_async(fn: object) -> bool:
    call = type(fn).__call__ if callable(fn) else None
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _check_provider(arg: str, fn: object, *, sync: bool) -> None:
    """Refuse what is not a function of the facade's kind, before anything connects."""
    kind = "a plain function" if sync else "an async function"
    expected = f"{kind} taking no argument and returning {_EXPECTED[arg]}"
    if not callable(fn):
        raise TypeError(f"invalid {arg}=: {fn!r}, expected {expected}")
    if sync and _is_async(fn):
        raise TypeError(
            f"invalid {arg}=: {fn!r} is an async function, expected {expected} (SyncConfigStream calls it "
            "on a worker thread; connect_config_stream takes async functions)"
        )
    if not sync and not _is_async(fn):
        raise TypeError(
            f"invalid {arg}=: {fn!r} is not an async function, expected {expected} (SyncConfigStream "
            "takes plain functions)"
        )


def _wrong(arg: str, result: object) -> TypeError:
    shown = repr(result)
    shown = shown if len(shown) <= 200 else shown[:200] + "..."
    return TypeError(f"the {arg} provider returned {shown}, expected {_EXPECTED[arg]}")


def _fields(value: object) -> bool:
    """A ``str -> str`` mapping."""
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _named_sections(named: Mapping[object, object]) -> bool:
    return all(isinstance(name, str) and _fields(fields) for name, fields in named.items())


def _check_status(result: object) -> Sections:
    if isinstance(result, tuple) and len(result) == 2:
        main, named = result
        if _fields(main) and isinstance(named, Mapping) and _named_sections(named):
            return main, named
    raise _wrong("status", result)


def _check_flare(result: object) -> FlareFiles:
    if isinstance(result, Mapping) and all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in result.items()
    ):
        return result
    raise _wrong("flare", result)


def _check_telemetry(result: object) -> str:
    if isinstance(result, str):
        return result
    raise _wrong("telemetry", result)


def _checked(fn: Callable[[], Any], check: Callable[[object], object], *, sync: bool) -> Callable[[], Any]:
    """``fn`` as an async function whose result ``check`` vets: awaited, or (``sync``) run on a
    worker thread."""

    async def get() -> object:
        return check(await asyncio.to_thread(fn) if sync else await fn())

    return get


_SERVICES: tuple[tuple[str, Callable[[Any], tuple[str, AddToServer]], Callable[[object], object]], ...] = (
    ("status", status_service, _check_status),
    ("flare", flare_service, _check_flare),
    ("telemetry", telemetry_service, _check_telemetry),
)
"""Each provider argument, the service that answers with it, and the check of its results."""


def _services(given: Mapping[str, Callable[[], object] | None], *, sync: bool) -> tuple[GrpcService, ...]:
    services = []
    for arg, make_service, check in _SERVICES:
        fn = given[arg]
        if fn is not None:
            name, add = make_service(_checked(fn, check, sync=sync))
            services.append(GrpcService(names=(name,), register=add))
    return tuple(services)


def agent_serving(
    consumer: consumer_def.Params,
    *,
    status: Callable[[], object] | None = None,
    flare: Callable[[], object] | None = None,
    telemetry: Callable[[], object] | None = None,
    listen: str | None = None,
    sync: bool = False,
) -> AgentServing | None:
    """The remote agent serving the given providers (None when none is given: the consumer then
    registers by itself). ``sync``: the providers are plain functions, run on a worker thread.

    Raises TypeError naming the argument when a provider is not a function of the expected kind,
    ValueError when ``listen`` is given without a provider or is not ``host:port`` or
    ``unix:///path``."""
    given = {"status": status, "flare": flare, "telemetry": telemetry}
    for arg, fn in given.items():
        if fn is not None:
            _check_provider(arg, fn, sync=sync)
    if all(fn is None for fn in given.values()):
        if listen is not None:
            raise ValueError(
                f"invalid listen={listen!r} without a provider: the agent's server serves status=, flare= "
                "or telemetry=; give at least one of them, or no listen="
            )
        return None
    if listen is not None and not isinstance(listen, str):
        raise TypeError(f"invalid listen=: {listen!r}, expected a string, host:port or unix:///path")
    params = registration_params(consumer, DEFAULT_LISTEN if listen is None else listen)
    return AgentServing(params, _services(given, sync=sync))
