from __future__ import annotations

import pytest

from pkg.util.lifecycle import Hook, Lifecycle, LifecycleError


def _recorder(events: list[str], name: str, fail: bool = False) -> Hook:
    async def start() -> None:
        if fail:
            raise OSError("port 5001 in use")
        events.append(f"start {name}")

    async def stop() -> None:
        events.append(f"stop {name}")

    return Hook(name, on_start=start, on_stop=stop)


async def test_starts_in_order_and_stops_in_reverse() -> None:
    events: list[str] = []
    lc = Lifecycle()
    for name in ("config", "ipc", "server"):
        lc.append(_recorder(events, name))
    await lc.start()
    await lc.stop()
    assert events == [
        "start config",
        "start ipc",
        "start server",
        "stop server",
        "stop ipc",
        "stop config",
    ]


async def test_failed_start_stops_what_started_and_names_the_component() -> None:
    events: list[str] = []
    lc = Lifecycle()
    lc.append(_recorder(events, "config"))
    lc.append(_recorder(events, "ipc"))
    lc.append(_recorder(events, "grpc server", fail=True))
    lc.append(_recorder(events, "never"))
    with pytest.raises(LifecycleError, match="starting grpc server failed: port 5001 in use"):
        await lc.start()
    assert events == ["start config", "start ipc", "stop ipc", "stop config"]


async def test_stop_error_is_logged_and_the_rest_still_stop(caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []

    async def broken_stop() -> None:
        raise RuntimeError("boom")

    lc = Lifecycle()
    lc.append(_recorder(events, "first"))
    lc.append(Hook("broken", on_stop=broken_stop))
    await lc.start()
    await lc.stop()
    assert events == ["start first", "stop first"]
    assert "stopping broken failed" in caplog.text


async def test_hooks_cannot_be_added_after_start() -> None:
    lc = Lifecycle()
    await lc.start()
    with pytest.raises(LifecycleError, match="already started"):
        lc.append(Hook("late"))
    await lc.stop()
