"""The watch loop: cache at start, one range read at R, watch from R+1, resume, re-read on compaction.

The revision kept is that of the last event applied (never a response header's, which may run ahead
of events still to come), so a watch resumed after a disconnect misses nothing. Each applied change
is persisted to the cache file before the next one is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from comp.core.fleet.def_ import AppliedValue, FleetStatus
from comp.core.fleet.impl.applier import FleetApplier
from comp.core.fleet.impl.backoff import Backoff
from pkg.etcd import EtcdClient, EtcdCompactedError, EtcdError
from pkg.fleet import CacheError, FleetCache, load_cache, save_cache

__all__ = ["FleetSettings", "FleetSource"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetSettings:
    """What the source needs beyond the client: where it watches, its cache and its timings."""

    prefix: str
    scopes: tuple[str, ...]
    cache_file: Path | None
    startup_timeout: float
    reconnect_initial: float
    reconnect_max: float


class FleetSource:
    """Runs the watch loop in a task between :meth:`start` and :meth:`stop`."""

    def __init__(
        self, client: EtcdClient, applier: FleetApplier, settings: FleetSettings, endpoints: tuple[str, ...]
    ) -> None:
        self._client = client
        self._applier = applier
        self._settings = settings
        self._backoff = Backoff(settings.reconnect_initial, settings.reconnect_max)
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self._progress = asyncio.Condition()
        self._status = FleetStatus(
            enabled=True,
            endpoints=endpoints,
            endpoint=client.endpoint,
            prefix=settings.prefix,
            scopes=settings.scopes,
            state="connecting",
            cache_file=str(settings.cache_file or ""),
        )

    # -- the component's face ----------------------------------------------------------------------

    def status(self) -> FleetStatus:
        return replace(
            self._status,
            endpoint=self._client.endpoint,
            applied_keys=len(self._applier.applied),
            refused=self._applier.refused,
        )

    def applied(self) -> dict[str, AppliedValue]:
        return self._applier.applied

    async def wait_revision(self, revision: int, within: float) -> bool:
        async with self._progress:
            try:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self._status.revision >= revision), within
                )
            except TimeoutError:
                return False
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply the cache file, start watching, and wait up to ``startup_timeout`` for the first read."""
        self._apply_cache()
        self._task = asyncio.create_task(self._run(), name="fleet-watch")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._loaded.wait()), self._settings.startup_timeout)
        if not self._loaded.is_set():
            _log.warning(
                "fleet: etcd not read within %.1fs (%s); going on with %s",
                self._settings.startup_timeout,
                self._status.stale_reason or "no answer yet",
                "the cached values" if self._status.values_from == "cache" else "no fleet values",
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()

    # -- the loop ----------------------------------------------------------------------------------

    def _apply_cache(self) -> None:
        path = self._settings.cache_file
        if path is None:
            return
        try:
            cache = load_cache(path)
        except CacheError as exc:
            _log.warning("fleet: %s; starting without it", exc)
            return
        if cache is None:
            return
        if cache.prefix != self._settings.prefix:
            _log.info(
                "fleet: cache %s is for prefix %r, not %r: not used",
                path,
                cache.prefix,
                self._settings.prefix,
            )
            return
        self._applier.replace(cache.values)
        self._status = replace(self._status, values_from="cache", last_change_unix=cache.saved_unix)
        _log.info(
            "fleet: %d values from the cache %s (etcd revision %d)",
            len(self._applier.applied),
            path,
            cache.revision,
        )

    async def _run(self) -> None:
        full_read = True
        while True:
            try:
                if full_read:
                    await self._read_all()
                    full_read = False
                await self._watch()
            except EtcdCompactedError as exc:
                full_read = True
                self._status = replace(self._status, resyncs=self._status.resyncs + 1)
                _log.warning("fleet: %s; reading every key again", exc)
            except EtcdError as exc:
                self._mark_stale(str(exc))
                delay = self._backoff.next_delay()
                _log.warning("fleet: %s; retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def _read_all(self) -> None:
        kvs, revision = await self._client.range_prefix(self._settings.prefix)
        entries = self._applier.entries_from((kv.key, kv.value, kv.mod_revision) for kv in kvs)
        changed = self._applier.replace(entries)
        _log.info("fleet: read %d keys at etcd revision %d; %d changes applied", len(kvs), revision, changed)
        now = time.time()
        self._status = replace(
            self._status,
            values_from="etcd",
            store_revision=max(self._status.store_revision, revision),
            last_change_unix=now
            if changed or self._status.last_change_unix is None
            else self._status.last_change_unix,
        )
        self._mark_fresh()
        await self._advance(revision)
        self._loaded.set()

    async def _watch(self) -> None:
        start = self._status.revision + 1
        async for batch in self._client.watch_prefix(self._settings.prefix, start):
            if batch.created:
                self._mark_fresh()
                self._backoff.reset()
            self._status = replace(
                self._status, store_revision=max(self._status.store_revision, batch.header_revision)
            )
            if not batch.events:
                continue
            changed = self._applier.apply_events(batch.events)
            if changed:
                self._status = replace(self._status, last_change_unix=time.time())
            await self._advance(batch.events[-1].revision)

    async def _advance(self, revision: int) -> None:
        self._status = replace(self._status, revision=revision)
        self._persist()
        async with self._progress:
            self._progress.notify_all()

    def _persist(self) -> None:
        path = self._settings.cache_file
        if path is None:
            return
        cache = FleetCache(
            self._settings.prefix, self._status.revision, time.time(), self._applier.layers.by_scope()
        )
        try:
            save_cache(path, cache)
        except CacheError as exc:
            _log.warning("fleet: %s", exc)

    def _mark_fresh(self) -> None:
        if self._status.state == "stale":
            _log.info(
                "fleet: etcd %s answers again; stale since %s",
                self._client.endpoint,
                self._status.stale_since_unix,
            )
        self._status = replace(self._status, state="watching", stale_since_unix=None, stale_reason="")

    def _mark_stale(self, reason: str) -> None:
        since = self._status.stale_since_unix or time.time()
        self._status = replace(
            self._status,
            state="stale",
            stale_since_unix=since,
            stale_reason=reason,
            reconnects=self._status.reconnects + 1,
        )
