"""Memory in front of Redis: in-process hits, one shared store, invalidations for all.

Every worker keeps a bounded in-process tier (L1, the native store) in front of
the shared Redis tier (L2). Hits on L1 cost what a memory-store hit costs; an
L1 miss asks L2 and keeps what it finds. Invalidations (delete, clear) are
published on a Redis channel and applied to the L1 of every worker listening;
``l1_ttl`` bounds how long an L1 entry can outlive an invalidation that was
lost (a dropped connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from .. import _core
from .._entry import StoredResponse
from .base import CacheBackend
from .memory import MemoryBackend
from .redis import RedisBackend

logger = logging.getLogger("fastapi_caching_route")

_CLEAR = "*"


class TieredBackend(CacheBackend):
    """L1 :class:`MemoryBackend` per worker in front of a shared :class:`RedisBackend`.

    ```py
    cache = FastAPICache(TieredBackend(RedisBackend.from_url("redis://cache:6379/0")))
    ```
    The listener for invalidations starts with the first request; call
    :meth:`close` on shutdown.
    """

    # Its lookups may wait on Redis (so it is not `synchronous`); its hit path
    # answers from L1, and an L1 miss still asks get().
    lookup_after_native_miss = True

    def __init__(
        self,
        l2: RedisBackend,
        *,
        l1: MemoryBackend | None = None,
        l1_ttl: float = 60.0,
        channel: str = "fcr:invalidations",
    ) -> None:
        if not isinstance(l2, RedisBackend):
            raise TypeError("l2 must be a RedisBackend")
        if not l1_ttl > 0:
            raise ValueError(f"l1_ttl must be positive, got {l1_ttl!r}")
        self.l2 = l2
        self.l1 = l1 if l1 is not None else MemoryBackend(max_bytes=64 * 1024 * 1024)
        self.l1.namespace = l2.namespace
        self.namespace = l2.namespace
        self.l1_ttl = float(l1_ttl)
        self.channel = channel
        self._origin = uuid.uuid4().hex  # to tell our own messages apart
        self._listener: asyncio.Task[None] | None = None
        self._closed = False
        self._counters = {"l1_fills": 0, "invalidations_received": 0, "l2_store_errors": 0}

    def hit_path(
        self,
        namespace: str | None,
        key_spec: _core.KeySpec,
        hit_header: tuple[bytes, bytes],
        **options: Any,
    ) -> _core.HitPath:
        """L1's one-call hit path (an L1 miss then asks :meth:`get`)."""
        self._ensure_listener()
        return self.l1.hit_path(namespace, key_spec, hit_header, **options)

    def get_nowait(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        """The in-process tier only (Redis is asked by :meth:`get`)."""
        return self.l1.get_nowait(key, namespace)

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        self._ensure_listener()
        entry = self.l1.get_nowait(key, namespace)
        if entry is not None:
            return entry
        entry = await self.l2.get(key, namespace)
        if entry is not None:
            self.l1.set_nowait(key, entry, namespace=namespace, ttl=self._l1_ttl_for(entry))
            self._counters["l1_fills"] += 1
        return entry

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        self._ensure_listener()
        stored = self.l1.set_nowait(
            key, value, namespace=namespace, ttl=min(ttl or self.l1_ttl, self.l1_ttl)
        )
        try:
            shared = await self.l2.set(key, value, namespace=namespace, ttl=ttl)
        except Exception:  # L1 still serves this worker; the route must not fail
            self._counters["l2_store_errors"] += 1
            logger.debug("storing in the shared tier failed", exc_info=True)
            shared = False
        return stored or shared

    async def delete(self, key: str, namespace: str | None = None) -> int:
        removed = await self.l1.delete(key, namespace)
        removed = max(removed, await self.l2.delete(key, namespace))
        await self._publish(namespace, key)
        return removed

    async def clear(self, namespace: str | None = None) -> int:
        removed = await self.l1.clear(namespace)
        removed = max(removed, await self.l2.clear(namespace))
        await self._publish(namespace, _CLEAR)
        return removed

    def stats(self) -> dict[str, Any]:
        return {
            **self.l1.stats(),
            "l2": self.l2.stats(),
            **self._counters,
        }

    async def close(self) -> None:
        """Stop listening for invalidations and close the Redis client."""
        self._closed = True
        listener, self._listener = self._listener, None
        # redis-py can swallow a cancellation that lands while it connects, so
        # one cancel() may not stop the task: repeat until it is done.
        while listener is not None and not listener.done():
            listener.cancel()
            await asyncio.wait({listener}, timeout=0.1)
        if listener is not None and not listener.cancelled():
            with contextlib.suppress(Exception):
                listener.result()
        await self.l2.close()

    def _l1_ttl_for(self, entry: StoredResponse) -> float:
        if entry.lifetime <= 0:
            return self.l1_ttl
        remaining = entry.lifetime - (time.time() - entry.stored_at)
        return max(0.001, min(remaining, self.l1_ttl))

    async def _publish(self, namespace: str | None, key: str) -> None:
        message = json.dumps({"origin": self._origin, "namespace": namespace, "key": key})
        await self.l2.client.publish(self.channel, message)

    def _ensure_listener(self) -> None:
        if self._closed:
            return
        if self._listener is None or self._listener.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not in a request yet; the first request starts it
            self._listener = loop.create_task(self._listen())

    async def _listen(self) -> None:
        while not self._closed:
            try:
                # The context closes the subscription's connection on cancellation too.
                async with self.l2.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect; l1_ttl bounds what was missed meanwhile
                logger.debug("invalidation listener lost its connection", exc_info=True)
                await asyncio.sleep(1.0)

    async def _apply(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            namespace, key = message["namespace"], message["key"]
        except (ValueError, KeyError, TypeError):
            return  # not ours
        if message.get("origin") == self._origin:
            return
        self._counters["invalidations_received"] += 1
        if key == _CLEAR:
            await self.l1.clear(namespace)
        else:
            await self.l1.delete(key, namespace)
